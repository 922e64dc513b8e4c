"""The urlconf `manage.py run_sandbox` serves: the sandbox alone, at the same
/sandbox/ paths as inside the console, plus what the shared base template and
the login-protected /sandbox/ page need (home, login/logout, admin, and the
accounts pages the nav links to)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("sandbox/", include("sandbox.urls")),
    path("", RedirectView.as_view(pattern_name="sandbox:index"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/docs/", RedirectView.as_view(url="/sandbox/api/requests/"), name="api-docs"),
]
