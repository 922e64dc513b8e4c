"""URL routes of the messaging app, mounted at /messaging/."""

from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("sms/", views.sms_list, name="sms_list"),
    path("sms/new/<str:kind>/", views.sms_create, name="sms_create"),
    path("sms/<int:pk>/", views.sms_detail, name="sms_detail"),
    path("sms/<int:pk>/state/", views.sms_state, name="sms_state"),
    path("limits/", views.policy_list, name="policy_list"),
    path("limits/<int:account_pk>/", views.policy_edit, name="policy_edit"),
]
