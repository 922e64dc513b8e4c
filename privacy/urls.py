"""URL routes of the privacy app."""

app_name = "privacy"

urlpatterns: list = []
