from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("vendor-accounts/", views.vendor_account_list, name="vendor_account_list"),
    path("vendor-accounts/new/", views.vendor_account_create, name="vendor_account_create"),
    path("vendor-accounts/<int:pk>/", views.vendor_account_detail, name="vendor_account_detail"),
    path("vendor-accounts/<int:pk>/edit/", views.vendor_account_edit, name="vendor_account_edit"),
    path(
        "vendor-accounts/<int:pk>/toggle/",
        views.vendor_account_set_enabled,
        name="vendor_account_set_enabled",
    ),
    path(
        "vendor-accounts/<int:pk>/regenerate-token/",
        views.vendor_account_regenerate_token,
        name="vendor_account_regenerate_token",
    ),
    path(
        "vendor-accounts/<int:pk>/check-status/",
        views.vendor_account_check_status,
        name="vendor_account_check_status",
    ),
    path(
        "vendor-accounts/<int:pk>/sub-accounts/new/",
        views.sub_account_create,
        name="sub_account_create",
    ),
    path(
        "vendor-accounts/<int:pk>/sub-accounts/sync/",
        views.sub_accounts_sync,
        name="sub_accounts_sync",
    ),
    path("sub-accounts/<int:pk>/state/", views.sub_account_state, name="sub_account_state"),
    path("numbers/", views.number_list, name="number_list"),
    path("numbers/new/", views.number_create, name="number_create"),
    path("numbers/import/", views.number_import, name="number_import"),
    path("numbers/<int:pk>/delete/", views.number_delete, name="number_delete"),
]
