import graphene

from accounts.flows import manage_sessions, number_status
from project.client_input import client_ip
from schema.auth import current_caller, current_user
from schema.types import PHONE_ARGUMENT, Session, User, UserStatus


class Query(graphene.ObjectType):
    user_status = graphene.Field(
        UserStatus,
        required=True,
        phone_number=graphene.String(required=True, description=PHONE_ARGUMENT),
        description=(
            "Whether a number has no account, an account with a fixed password, or one without."
        ),
    )
    me = graphene.Field(
        User,
        description=(
            "The account of the access token in the Authorization header; null when anonymous."
        ),
    )

    sessions = graphene.List(
        graphene.NonNull(Session),
        required=True,
        description=(
            "Your live sessions, most recently used first (needs `Authorization: JWT <token>`)."
        ),
    )

    @staticmethod
    def resolve_user_status(root, info, phone_number):
        return number_status.user_status(
            phone_number=phone_number, client_ip=client_ip(info.context)
        )

    @staticmethod
    def resolve_me(root, info):
        return current_user(info.context)

    @staticmethod
    def resolve_sessions(root, info):
        return manage_sessions.list_sessions(caller=current_caller(info.context))
