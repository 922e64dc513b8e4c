"""Webhook routes: /callbacks/<webhook_token>/<kind>/ (one per vendor account and kind).

Tokens are URL-safe (accounts.models.new_webhook_token) and kinds are short names,
so anything else (a NUL byte, which PostgreSQL refuses in text, or a kind longer
than Delivery.kind holds) is no callback URL of ours: a 404, never a database error.
"""

from django.urls import re_path

from callbacks import views

urlpatterns = [
    re_path(
        r"^(?P<token>[0-9A-Za-z_-]{1,64})/(?P<kind>[0-9A-Za-z_-]{1,32})/$",
        views.webhook,
        name="callbacks-webhook",
    ),
]
