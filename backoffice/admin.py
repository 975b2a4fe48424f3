from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.errors import InvalidPhoneNumber
from accounts.flows.change_number import number_changed
from accounts.flows.delete_account import erase
from accounts.identity.phone import mask_phone, normalize_phone
from accounts.models import AuditEvent, OTPChallenge, RefreshToken, Session, User, WebhookMessage
from accounts.outbound import audit, events, webhooks
from accounts.sessions.lifecycle import end_sessions
from project.client_input import client_ip


class StaffLoginForm(AdminAuthenticationForm):
    """The admin's login form; a locked account or an outage is said as such."""

    def get_invalid_login_error(self):
        refusal = getattr(self.request, "accounts_refusal", None)
        if refusal is not None:
            return ValidationError(str(refusal.message), code=refusal.code.lower())
        return super().get_invalid_login_error()


admin.site.login_form = StaffLoginForm


class AuditedAdmin(admin.ModelAdmin):
    """Every change the admin logs (additions, changes, deletions) also goes to the
    audit trail, with the staff account that made it and its network."""

    def log_addition(self, request, obj, message):
        _audit_admin(request, "added", [obj], message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        _audit_admin(request, "changed", [obj], message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        _audit_admin(request, "deleted", list(queryset), "")
        return super().log_deletions(request, queryset)


def _audit_admin(request, verb: str, objects, message) -> None:
    for obj in objects:
        fields = ""
        if isinstance(message, list):  # Django's structured change message
            changed = [f for part in message for f in part.get("changed", {}).get("fields", [])]
            fields = f" ({', '.join(changed)})" if changed else ""
        audit.record(
            AuditEvent.Kind.ADMIN_ACTION,
            outcome=verb,
            account_id=request.user.pk,
            detail=f"{verb} {obj._meta.label_lower} {obj.pk}{fields}",
            client=client_ip(request),
        )


# The library's own model is unused (ours stores hashes); hide its empty table.
class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("phone_number",)


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class PhoneSearchMixin:
    """Any written form of a number searches as its E.164 form."""

    def get_search_results(self, request, queryset, search_term):
        try:
            search_term = normalize_phone(search_term).as_e164
        except InvalidPhoneNumber:
            pass
        return super().get_search_results(request, queryset, search_term)


DATES = ("last_login", "date_joined")


@admin.register(User)
class UserAdmin(PhoneSearchMixin, AuditedAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("phone_number", "has_password", "is_active", "is_staff", *DATES)
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("phone_number",)
    ordering = ("-date_joined",)
    readonly_fields = DATES
    fieldsets = (
        (None, {"fields": ("phone_number", "password")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("phone_number", "usable_password", "password1", "password2"),
            },
        ),
    )

    def save_model(self, request, obj, form, change):
        """A new number ends the account's sessions and is announced, as
        `changePhoneNumber` does (deactivation ends them wherever it is made)."""
        stored = User.objects.filter(pk=obj.pk).values_list("phone_number", flat=True)
        old_number = stored.first() if change else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change:  # told to other systems as a sign-up is
                events.announce(
                    events.user_signed_up,
                    user=obj,
                    phone_number=obj.phone_number,
                    method="admin",
                )
            if old_number is not None and old_number != obj.phone_number:
                number_changed(obj, old_number)

    def delete_model(self, request, obj):
        erase(obj)  # the same deletion as deleteAccount

    def delete_queryset(self, request, queryset):
        for user in queryset:
            erase(user)

    @admin.display(boolean=True, description="has password")
    def has_password(self, obj: User) -> bool:
        return obj.has_usable_password()


class ReadOnlyAdmin(AuditedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Session)
class SessionAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "user",
        "method",
        "created_at",
        "last_refreshed_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "client_ip",
    )
    list_filter = ("method", "revoked_reason", "created_at")
    search_fields = ("user__phone_number",)
    raw_id_fields = ("user",)
    actions = ("revoke",)

    @admin.action(description="Revoke selected sessions", permissions=["delete"])
    def revoke(self, request, queryset):
        count = end_sessions(queryset, Session.Reason.ADMIN)
        self.message_user(request, f"Revoked {count} session(s).")


@admin.register(RefreshToken)
class LegacyRefreshTokenAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    """Refresh tokens from before sessions, until they expire."""

    list_display = ("id", "user", "created", "expires_at", "revoked", "revoked_reason")
    list_filter = ("revoked_reason", "revoked", "created")
    search_fields = ("user__phone_number",)
    exclude = ("token",)
    raw_id_fields = ("user",)


@admin.register(OTPChallenge)
class OTPChallengeAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    list_display = ("__str__", "sent_at", "expires_at", "attempts", "used_at")
    list_filter = ("sent_at", "used_at")
    exclude = ("code_hash", "phone_number")
    readonly_fields = ("__str__", "sent_at", "expires_at", "attempts", "used_at")
    search_fields = ("phone_number",)


@admin.register(WebhookMessage)
class WebhookMessageAdmin(ReadOnlyAdmin):
    """The webhook outbox: what was delivered, what waits for a retry, and the dead
    letters, which "Send again" queues with their own ids."""

    list_display = (
        "message_id",
        "event_type",
        "account_id",
        "endpoint",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_result",
    )
    list_filter = ("status", "event_type", "endpoint", "created_at")
    search_fields = ("=message_id", "=account_id")
    exclude = ("claimed_by", "claimed_until")
    actions = ("replay",)

    @admin.action(description="Send again", permissions=["replay"])
    def replay(self, request, queryset):
        count = webhooks.replay(queryset)
        audit.record(
            AuditEvent.Kind.ADMIN_ACTION,
            outcome="replayed",
            account_id=request.user.pk,
            detail=f"replayed {count} webhook deliveries",
            client=client_ip(request),
        )
        self.message_user(request, f"Queued {count} delivery(ies) again.")

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_webhookmessage")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail, read-only: nobody edits or deletes it by hand (purge_expired
    deletes what is older than AUDIT_RETENTION_DAYS)."""

    list_display = (
        "at",
        "event",
        "outcome",
        "account_id",
        "phone_number",
        "client_network",
        "session_id",
        "detail",
    )
    list_filter = ("event", "outcome", "at")
    search_fields = ("=account_id", "=client_network", "=phone_number")
    date_hierarchy = "at"

    def get_search_results(self, request, queryset, search_term):
        """A number, in any written form, searches as the trail stores it: masked."""
        try:
            search_term = mask_phone(normalize_phone(search_term))
        except InvalidPhoneNumber:
            pass
        return super().get_search_results(request, queryset, search_term)

    def has_delete_permission(self, request, obj=None):
        return False
