"""JSON API routes of the sandbox, included by sandbox/urls.py under /sandbox/api/
(see sandbox/api.py)."""

from django.urls import path

from sandbox import api

urlpatterns = [
    path("accounts/", api.account_list, name="api_accounts"),
    path("accounts/<int:pk>/", api.account_update, name="api_account"),
    path("bindings/", api.binding_list, name="api_bindings"),
    path("calls/", api.calls, name="api_calls"),
    path("calls/<int:pk>/deliveries/", api.call_deliveries, name="api_call_deliveries"),
    path("requests/", api.request_list, name="api_requests"),
]
