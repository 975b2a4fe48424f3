import graphene

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
