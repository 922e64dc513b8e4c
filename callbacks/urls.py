"""URL routes of the callbacks app."""

app_name = "callbacks"

urlpatterns: list = []
