import graphene
from graphene.types.generic import GenericScalar

from accounts.models import Session as SessionModel
from accounts.sessions.claims import RESERVED
from schema.auth import current_caller

PHONE_ARGUMENT = "A mobile number in any common form: 09112223344, +989112223344, ۰۹۱۱…"


class UserStatus(graphene.ObjectType):
    """What a phone number can do next: sign up, log in with a code, or with a password."""

    phone_number = graphene.String(required=True, description="The number in E.164 form.")
    exists = graphene.Boolean(required=True, description="Whether an account has this number.")
    has_password = graphene.Boolean(
        required=True,
        description="Whether the account has a fixed password (false when there is no account).",
    )

    @staticmethod
    def resolve_phone_number(status, info):
        return status.phone_number.as_e164


class User(graphene.ObjectType):
    """An account."""

    phone_number = graphene.String(required=True, description="The number in E.164 form.")
    has_password = graphene.Boolean(required=True, description="Whether a fixed password is set.")
    date_joined = graphene.DateTime(required=True, description="When the account was created.")
    last_login = graphene.DateTime(description="When the account last logged in.")

    @staticmethod
    def resolve_phone_number(user, info):
        return user.phone_number.as_e164

    @staticmethod
    def resolve_has_password(user, info):
        return user.has_usable_password()


class TokenPayload(graphene.ObjectType):
    """The claims of an access token."""

    sub = graphene.String(required=True, description="The account's id.")
    phone_number = graphene.String(
        required=True, source="phoneNumber", description="The account's number in E.164 form."
    )
    sid = graphene.String(
        description="The session the token belongs to (null for tokens from before sessions)."
    )
    iat = graphene.Int(required=True, description="Unix time the token was issued.")
    exp = graphene.Int(required=True, description="Unix time the token expires.")
    orig_iat = graphene.Int(
        source="origIat", description="Unix time of the first token (django-graphql-jwt's claim)."
    )
    jti = graphene.String(description="A random id that makes every token distinct.")
    iss = graphene.String(description="The issuer, JWT_ISSUER.")
    aud = graphene.String(description="The audience, JWT_AUDIENCE, when one is set.")
    claims = GenericScalar(
        description=(
            "The claims JWT_CLAIMS_HOOK added (JWT_CUSTOM_CLAIMS), as a JSON object; "
            "empty without a hook."
        )
    )

    @staticmethod
    def resolve_claims(payload, info):
        return {name: value for name, value in payload.items() if name not in RESERVED}


class SessionMethod(graphene.Enum):
    """How a session was opened."""

    CODE = SessionModel.Method.CODE.value
    PASSWORD = SessionModel.Method.PASSWORD.value
    LEGACY = SessionModel.Method.LEGACY.value

    @property
    def description(self):
        return {
            "CODE": "A one-time code.",
            "PASSWORD": "A fixed password.",
            "LEGACY": "A refresh token issued before sessions existed.",
        }[self.name]


class Session(graphene.ObjectType):
    """One login and the refresh tokens rotated from it."""

    id = graphene.ID(required=True, description="The session's id; `sid` in its access tokens.")
    method = graphene.Field(SessionMethod, required=True, description="How it was opened.")
    created_at = graphene.DateTime(required=True, description="When it was opened (the login).")
    last_refreshed_at = graphene.DateTime(description="When its refresh token last rotated.")
    expires_at = graphene.DateTime(
        required=True, description="When it ends, whatever the rotations."
    )
    user_agent = graphene.String(
        required=True, description="The User-Agent of the login, cut to 256 characters."
    )
    client_ip = graphene.String(required=True, description="The client IP of the login.")
    current = graphene.Boolean(
        required=True, description="True for the session of the caller's access token."
    )

    @staticmethod
    def resolve_id(session, info):
        return str(session.pk)

    @staticmethod
    def resolve_current(session, info):
        caller = current_caller(info.context)
        return caller is not None and caller.session_id == str(session.pk)
