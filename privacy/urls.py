"""URL routes of the privacy app, mounted at /privacy/."""

from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("bindings/", views.binding_list, name="binding_list"),
    path("bindings/new/<str:kind>/", views.binding_create, name="binding_create"),
    path("bindings/bulk-release/", views.binding_bulk_release, name="binding_bulk_release"),
    path("bindings/<int:pk>/", views.binding_detail, name="binding_detail"),
    path("bindings/<int:pk>/state/", views.binding_state, name="binding_state"),
    path("bindings/<int:pk>/release/", views.binding_release, name="binding_release"),
    path("pool/", views.pool, name="pool"),
]
