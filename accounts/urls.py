from django.urls import re_path

from . import api, openapi

app_name = "accounts"

# The trailing slash is optional, so a POST without it is served rather than
# redirected (a redirect would drop the body).
urlpatterns = [
    re_path(r"^schema/?$", openapi.schema, name="schema"),
    re_path(r"^status/(?P<phone_number>[^/]+)/?$", api.user_status, name="status"),
    re_path(r"^otp/(?P<phone_number>[^/]+)/?$", api.send_otp, name="otp"),
    re_path(r"^token/?$", api.token_obtain, name="token"),
    re_path(r"^token/refresh/?$", api.token_refresh, name="token-refresh"),
    re_path(r"^token/verify/?$", api.token_verify, name="token-verify"),
    re_path(r"^token/blacklist/?$", api.token_blacklist, name="token-blacklist"),
]
