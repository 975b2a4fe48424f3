from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from graphql_jwt.refresh_token.models import RefreshToken as LibraryRefreshToken

from .errors import InvalidPhoneNumber
from .flows import account
from .models import OTPChallenge, RefreshToken, Session, User
from .phone import normalize_phone
from .sessions import end_sessions


class StaffLoginForm(AdminAuthenticationForm):
    """The admin's login form; a locked account or an outage is said as such."""

    def get_invalid_login_error(self):
        refusal = getattr(self.request, "accounts_refusal", None)
        if refusal is not None:
            return ValidationError(str(refusal.message), code=refusal.code.lower())
        return super().get_invalid_login_error()


admin.site.login_form = StaffLoginForm

# The library's own model is unused (ours stores hashes); hide its empty table.
if admin.site.is_registered(LibraryRefreshToken):
    admin.site.unregister(LibraryRefreshToken)


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
class UserAdmin(PhoneSearchMixin, DjangoUserAdmin):
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
            if old_number is not None and old_number != obj.phone_number:
                account.number_changed(obj, old_number)

    def delete_model(self, request, obj):
        account.erase(obj)  # the same deletion as deleteAccount

    def delete_queryset(self, request, queryset):
        for user in queryset:
            account.erase(user)

    @admin.display(boolean=True, description="has password")
    def has_password(self, obj: User) -> bool:
        return obj.has_usable_password()


class ReadOnlyAdmin(admin.ModelAdmin):
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
