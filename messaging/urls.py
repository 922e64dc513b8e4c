"""URL routes of the messaging app, mounted at /messaging/."""

from django.urls import path

from messaging import calls_views, views

app_name = "messaging"

urlpatterns = [
    path("sms/", views.sms_list, name="sms_list"),
    path("sms/new/<str:kind>/", views.sms_create, name="sms_create"),
    path("sms/<int:pk>/", views.sms_detail, name="sms_detail"),
    path("sms/<int:pk>/state/", views.sms_state, name="sms_state"),
    path("limits/", views.policy_list, name="policy_list"),
    path("limits/<int:account_pk>/", views.policy_edit, name="policy_edit"),
    path("two-way-calls/", calls_views.two_way_call_list, name="two_way_call_list"),
    path("two-way-calls/new/", calls_views.two_way_call_create, name="two_way_call_create"),
    path("two-way-calls/<int:pk>/", calls_views.two_way_call_detail, name="two_way_call_detail"),
    path(
        "two-way-calls/<int:pk>/state/", calls_views.two_way_call_state, name="two_way_call_state"
    ),
    path(
        "two-way-calls/<int:pk>/progress/",
        calls_views.two_way_call_progress,
        name="two_way_call_progress",
    ),
    path("voice-codes/", calls_views.voice_code_list, name="voice_code_list"),
    path("voice-codes/new/", calls_views.voice_code_create, name="voice_code_create"),
    path("voice-codes/<int:pk>/", calls_views.voice_code_detail, name="voice_code_detail"),
    path("voice-codes/<int:pk>/state/", calls_views.voice_code_state, name="voice_code_state"),
    path(
        "voice-codes/<int:pk>/progress/",
        calls_views.voice_code_progress,
        name="voice_code_progress",
    ),
]
