"""Webhook routes: /callbacks/<webhook_token>/<kind>/ (one per vendor account and kind)."""

urlpatterns: list = []
