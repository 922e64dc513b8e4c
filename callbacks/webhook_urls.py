"""Webhook routes: /callbacks/<webhook_token>/<kind>/ (one per vendor account and kind).

Tokens are URL-safe (accounts.models.new_webhook_token) and kinds are short names,
so anything else (a NUL byte, which PostgreSQL refuses in text, or a kind longer
than Delivery.kind holds) is no callback URL of ours: a 404, never a database error.
"""

from django.urls import re_path

from callbacks import views

# Also matched by callbacks.middleware.WebhookFastPath, which serves these URLs.
TOKEN = r"[0-9A-Za-z_-]{1,64}"
KIND = r"[0-9A-Za-z_-]{1,32}"

urlpatterns = [
    re_path(
        rf"^(?P<token>{TOKEN})/(?P<kind>{KIND})/$",
        views.webhook,
        name="callbacks-webhook",
    ),
]
