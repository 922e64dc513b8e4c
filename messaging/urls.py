"""URL routes of the messaging app, mounted at /messaging/."""

from django.urls import path

from messaging import calls_views as views

app_name = "messaging"

urlpatterns = [
    path("two-way-calls/", views.two_way_call_list, name="two_way_call_list"),
    path("two-way-calls/new/", views.two_way_call_create, name="two_way_call_create"),
    path("two-way-calls/<int:pk>/", views.two_way_call_detail, name="two_way_call_detail"),
    path("two-way-calls/<int:pk>/state/", views.two_way_call_state, name="two_way_call_state"),
    path(
        "two-way-calls/<int:pk>/progress/",
        views.two_way_call_progress,
        name="two_way_call_progress",
    ),
    path("voice-codes/", views.voice_code_list, name="voice_code_list"),
    path("voice-codes/new/", views.voice_code_create, name="voice_code_create"),
    path("voice-codes/<int:pk>/", views.voice_code_detail, name="voice_code_detail"),
    path("voice-codes/<int:pk>/state/", views.voice_code_state, name="voice_code_state"),
    path("voice-codes/<int:pk>/progress/", views.voice_code_progress, name="voice_code_progress"),
]
