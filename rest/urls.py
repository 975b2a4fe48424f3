from django.urls import re_path

from rest import openapi, views

app_name = "accounts"

# The trailing slash is optional, so a POST without it is served rather than
# redirected (a redirect would drop the body).
urlpatterns = [
    re_path(r"^schema/?$", openapi.schema, name="schema"),
    re_path(r"^status/(?P<phone_number>[^/]+)/?$", views.user_status, name="status"),
    re_path(r"^otp/(?P<phone_number>[^/]+)/?$", views.send_otp, name="otp"),
    re_path(r"^token/?$", views.token_obtain, name="token"),
    re_path(r"^token/refresh/?$", views.token_refresh, name="token-refresh"),
    re_path(r"^token/verify/?$", views.token_verify, name="token-verify"),
    re_path(r"^token/blacklist/?$", views.token_blacklist, name="token-blacklist"),
]
