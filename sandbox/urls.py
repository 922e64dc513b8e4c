"""URL routes of the sandbox app, mounted at /sandbox/ (root urls, when
SANDBOX_ENABLED) or served alone by `manage.py run_sandbox`.

Vendor endpoints sit under /sandbox/<vendor>/ at the documents' own paths, as
each vendor's sandbox module lists them in ROUTES, so a console VendorAccount's
base_url is e.g. http://127.0.0.1:8000/sandbox/igw (sandbox/protocol.base_path).
"""

from django.urls import include, path, re_path

from sandbox import endpoints, views

app_name = "sandbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("calls/place/", views.place_call, name="place_call"),
    path("accounts/<int:pk>/chaos/", views.account_chaos, name="account_chaos"),
    # public_id is hex (models.new_public_id): anything else is a 404 without a query.
    re_path(r"^recordings/(?P<public_id>[0-9a-f]{1,32})\.wav$", views.recording, name="recording"),
    path("api/", include("sandbox.api_urls")),
    # Vendor endpoints, last: each vendor module's ROUTES (sandbox/endpoints.py).
    path("<str:vendor>/<path:rest>", endpoints.dispatch),
]
