"""URL routes of the messaging app, mounted at /messaging/."""

app_name = "messaging"

urlpatterns: list = []
