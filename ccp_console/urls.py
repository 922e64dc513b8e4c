"""Root URLs: pages, the API under /api/v1/, callbacks, admin, and the sandbox when enabled."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts.api import NumberViewSet, VendorAccountViewSet
from core import views as core_views

router = DefaultRouter()
router.register("vendor-accounts", VendorAccountViewSet, basename="vendor-account")
router.register("numbers", NumberViewSet, basename="number")

api_v1 = [
    path("", include("privacy.api_urls")),
    path("", include("callbacks.api_urls")),
    path("", include("messaging.api_urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.health, name="health"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("privacy/", include("privacy.urls")),
    path("calls/", include("callbacks.urls")),
    path("messaging/", include("messaging.urls")),
    path("callbacks/", include("callbacks.webhook_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script from a URL: no inline script for CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
