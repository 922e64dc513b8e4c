"""URL routes of the sandbox app."""

app_name = "sandbox"

urlpatterns: list = []
