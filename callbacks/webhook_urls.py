"""Webhook routes: /callbacks/<webhook_token>/<kind>/ (one per vendor account and kind)."""

from django.urls import path

from callbacks import views

urlpatterns = [
    path("<str:token>/<str:kind>/", views.webhook, name="callbacks-webhook"),
]
