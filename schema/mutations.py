import functools
from typing import Any

import graphene

from accounts.flows import (
    change_number,
    delete_account,
    login,
    manage_sessions,
    password_change,
    send_code,
    token_exchange,
)
from accounts.flows.use_case import TokenPair
from project.client_input import client_ip, user_agent
from schema.auth import current_caller
from schema.types import PHONE_ARGUMENT, TokenPayload, User


class TokenPairFields:
    """Fields shared by every mutation that hands out tokens."""

    token = graphene.String(
        required=True, description="Access JWT; send it as `Authorization: JWT <token>`."
    )
    refresh_token = graphene.String(
        required=True,
        description="Single-use refresh token; trade it for a new pair with refreshToken.",
    )
    payload = graphene.Field(
        TokenPayload, required=True, description="The claims of the access token."
    )
    refresh_expires_in = graphene.Int(
        required=True, description="Unix time at which the refresh token expires."
    )

    @classmethod
    def from_pair(cls, pair: TokenPair, **fields: Any) -> Any:
        payload_type: Any = cls  # a graphene.Mutation: its fields are its keyword arguments
        return payload_type(
            token=pair.access,
            refresh_token=pair.refresh,
            payload=pair.payload,
            refresh_expires_in=pair.refresh_expires_at,
            **fields,
        )


class FreshProof:
    """The arguments of a sensitive change: one of them proves the caller is the owner."""

    code = graphene.String(
        description="A code sent to the account's number by sendOtp, not used before."
    )
    old_password = graphene.String(description="Or the account's password, where it has one.")


def with_fresh_proof(use_case, info, code, old_password):
    """Run a use case that takes a fresh proof, for the caller of this request."""
    return use_case(
        caller=current_caller(info.context),
        client_ip=client_ip(info.context),
        code=code,
        old_password=old_password,
    )


class SendOtp(graphene.Mutation):
    class Meta:
        name = "SendOtpPayload"
        description = "Text a one-time code to a mobile number. The code logs in, or signs up."

    class Arguments:
        phone_number = graphene.String(required=True, description=PHONE_ARGUMENT)
        challenge_token = graphene.String(
            description=(
                "The token of a passed bot check, when a send was answered "
                "CHALLENGE_REQUIRED (whose extensions name the provider and site key). "
                "Each token is good once."
            )
        )

    sent = graphene.Boolean(
        required=True, description="True once the SMS was handed to the provider."
    )
    expires_in = graphene.Int(required=True, description="Seconds the code stays valid.")
    retry_after = graphene.Int(required=True, description="Seconds until another code may be sent.")

    @staticmethod
    def mutate(root, info, phone_number, challenge_token=None):
        sent = send_code.send_otp(
            phone_number=phone_number,
            client_ip=client_ip(info.context),
            challenge_token=challenge_token,
        )
        return SendOtp(sent=True, expires_in=sent.expires_in, retry_after=sent.retry_after)


class TokenAuth(TokenPairFields, graphene.Mutation):
    class Meta:
        name = "TokenAuthPayload"
        description = (
            "Log in with a one-time code or a fixed password, both sent as `password`. "
            "A valid code for a number without an account creates the account."
        )

    class Arguments:
        phone_number = graphene.String(required=True, description=PHONE_ARGUMENT)
        password = graphene.String(
            required=True, description="The one-time code, or the fixed password."
        )

    created = graphene.Boolean(
        required=True, description="True when this login created the account."
    )
    user = graphene.Field(User, required=True, description="The logged-in account.")

    @classmethod
    def mutate(cls, root, info, phone_number, password):
        pair = login.login(
            phone_number=phone_number,
            password=password,
            client_ip=client_ip(info.context),
            user_agent=user_agent(info.context),
        )
        return cls.from_pair(pair, created=pair.created, user=pair.user)


class RefreshToken(TokenPairFields, graphene.Mutation):
    class Meta:
        name = "RefreshTokenPayload"
        description = "Trade a refresh token for a new access token and a new refresh token."

    class Arguments:
        refresh_token = graphene.String(
            required=True, description="A live refresh token; it is revoked."
        )

    @classmethod
    def mutate(cls, root, info, refresh_token):
        return cls.from_pair(token_exchange.refresh(refresh_token=refresh_token))


class VerifyToken(graphene.Mutation):
    class Meta:
        name = "VerifyTokenPayload"
        description = "Check an access token's signature and expiry."

    class Arguments:
        token = graphene.String(required=True, description="An access JWT.")

    payload = graphene.Field(TokenPayload, required=True, description="The claims of the token.")

    @staticmethod
    def mutate(root, info, token):
        return VerifyToken(payload=token_exchange.verify(token=token))


class RevokeToken(graphene.Mutation):
    class Meta:
        name = "RevokeTokenPayload"
        description = (
            "Log out: revoke a refresh token. Access tokens already issued run until they expire."
        )

    class Arguments:
        refresh_token = graphene.String(required=True, description="The refresh token to revoke.")

    revoked = graphene.Boolean(required=True, description="True once the token is revoked.")

    @staticmethod
    def mutate(root, info, refresh_token):
        token_exchange.revoke(refresh_token=refresh_token)
        return RevokeToken(revoked=True)


class SetPassword(TokenPairFields, graphene.Mutation):
    class Meta:
        name = "SetPasswordPayload"
        description = (
            "Set or change the fixed password of the logged-in account (needs "
            "`Authorization: JWT <token>` and a fresh proof: `code` for a first password, "
            "`oldPassword` or `code` for a change). Every other session of the account ends, "
            "so other devices must log in again; this one goes on, and a fresh pair of it "
            "is returned."
        )

    class Arguments(FreshProof):
        password = graphene.String(
            required=True, description="The new password; it must pass the password rules."
        )

    success = graphene.Boolean(required=True, description="True once the password is set.")

    @classmethod
    def mutate(cls, root, info, password, old_password=None, code=None):
        set_password = functools.partial(password_change.set_password, password=password)
        pair = with_fresh_proof(set_password, info, code, old_password)
        return cls.from_pair(pair, success=True)


class RevokeSession(graphene.Mutation):
    class Meta:
        name = "RevokeSessionPayload"
        description = (
            "End one of your sessions (needs `Authorization: JWT <token>`): its refresh "
            "token stops at once; its access tokens run until they expire."
        )

    class Arguments:
        id = graphene.ID(required=True, description="The session's id, from `sessions`.")

    revoked_count = graphene.Int(
        required=True,
        description="Sessions ended: 1, or 0 when the id is not a live session of yours.",
    )

    @staticmethod
    def mutate(root, info, id):
        count = manage_sessions.revoke_session(caller=current_caller(info.context), session_id=id)
        return RevokeSession(revoked_count=count)


class RevokeOtherSessions(graphene.Mutation):
    class Meta:
        name = "RevokeOtherSessionsPayload"
        description = (
            "End every session of yours but the one of this access token (needs "
            "`Authorization: JWT <token>`)."
        )

    revoked_count = graphene.Int(required=True, description="Sessions ended.")

    @staticmethod
    def mutate(root, info):
        count = manage_sessions.revoke_other_sessions(caller=current_caller(info.context))
        return RevokeOtherSessions(revoked_count=count)


class RemovePassword(graphene.Mutation):
    class Meta:
        name = "RemovePasswordPayload"
        description = (
            "Remove the fixed password, so the account logs in with codes alone (needs "
            "`Authorization: JWT <token>` and a fresh proof: `code` or `oldPassword`). "
            "Every other session ends; this one goes on."
        )

    class Arguments(FreshProof):
        pass

    removed = graphene.Boolean(
        required=True, description="True once removed; false when there was no password."
    )

    @staticmethod
    def mutate(root, info, code=None, old_password=None):
        removed = with_fresh_proof(password_change.remove_password, info, code, old_password)
        return RemovePassword(removed=removed)


class DeleteAccount(graphene.Mutation):
    class Meta:
        name = "DeleteAccountPayload"
        description = (
            "Delete your account and everything tied to its number: sessions, refresh "
            "tokens, codes (needs `Authorization: JWT <token>` and a fresh proof: `code` or "
            "`oldPassword`). The number can sign up afresh."
        )

    class Arguments(FreshProof):
        pass

    deleted = graphene.Boolean(required=True, description="True once the account is gone.")

    @staticmethod
    def mutate(root, info, code=None, old_password=None):
        with_fresh_proof(delete_account.delete_account, info, code, old_password)
        return DeleteAccount(deleted=True)


class ChangePhoneNumber(graphene.Mutation):
    class Meta:
        name = "ChangePhoneNumberPayload"
        description = (
            "Move your account to a new number (needs `Authorization: JWT <token>`, a code "
            "sent to the new number as `newNumberCode`, and a fresh proof of the current "
            "owner: `code`, sent to the current number, or `oldPassword`). Every other "
            "session ends; refresh this one's tokens to carry the new number."
        )

    class Arguments(FreshProof):
        new_phone_number = graphene.String(required=True, description=PHONE_ARGUMENT)
        new_number_code = graphene.String(
            required=True, description="The code sendOtp texted to the new number."
        )

    user = graphene.Field(User, required=True, description="The account, with its new number.")

    @staticmethod
    def mutate(root, info, new_phone_number, new_number_code, code=None, old_password=None):
        user = with_fresh_proof(
            functools.partial(
                change_number.change_phone_number,
                new_phone_number=new_phone_number,
                new_number_code=new_number_code,
            ),
            info,
            code,
            old_password,
        )
        return ChangePhoneNumber(user=user)


class Mutation(graphene.ObjectType):
    send_otp = SendOtp.Field(description=SendOtp._meta.description)
    token_auth = TokenAuth.Field(description=TokenAuth._meta.description)
    refresh_token = RefreshToken.Field(description=RefreshToken._meta.description)
    verify_token = VerifyToken.Field(description=VerifyToken._meta.description)
    revoke_token = RevokeToken.Field(description=RevokeToken._meta.description)
    set_password = SetPassword.Field(description=SetPassword._meta.description)
    revoke_session = RevokeSession.Field(description=RevokeSession._meta.description)
    revoke_other_sessions = RevokeOtherSessions.Field(
        description=RevokeOtherSessions._meta.description
    )
    remove_password = RemovePassword.Field(description=RemovePassword._meta.description)
    change_phone_number = ChangePhoneNumber.Field(description=ChangePhoneNumber._meta.description)
    delete_account = DeleteAccount.Field(description=DeleteAccount._meta.description)
