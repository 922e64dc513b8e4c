"""API routes of the callbacks app, mounted under /api/v1/."""

urlpatterns: list = []
