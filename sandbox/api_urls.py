"""API routes of the sandbox app, mounted under /api/v1/."""

urlpatterns: list = []
