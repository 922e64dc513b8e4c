"""URL routes of the callbacks app (mounted at /calls/)."""

from django.urls import path

from callbacks import dashboard, health_views, views

app_name = "callbacks"

urlpatterns = [
    path("", views.call_record_list, name="call_record_list"),
    path("export.csv", views.call_record_export, name="call_record_export"),
    path("exports/", views.export_list, name="export_list"),
    path("exports/<int:pk>/", views.export_detail, name="export_detail"),
    path("exports/<int:pk>/state", views.export_state, name="export_state"),
    path("exports/<int:pk>/download", views.export_download, name="export_download"),
    path("<int:pk>/", views.call_record_detail, name="call_record_detail"),
    path("<int:pk>/recording", views.recording_play, name="recording_play"),
    path("gaps/", views.gap_list, name="gap_list"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("health/", health_views.x_number_health, name="x_number_health"),
    path("health/<int:pk>/suspend/", health_views.x_number_suspend, name="x_number_suspend"),
    path("deliveries/", views.delivery_list, name="delivery_list"),
    path("deliveries/<int:pk>/", views.delivery_detail, name="delivery_detail"),
    path("deliveries/<int:pk>/replay", views.delivery_replay, name="delivery_replay"),
]
