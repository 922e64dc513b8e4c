"""API routes of the callbacks app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from callbacks.api import CallRecordViewSet
from callbacks.stats_api import StatsView

router = SimpleRouter()
router.register("call-records", CallRecordViewSet, basename="call-record")

urlpatterns = [
    *router.urls,
    path("stats/", StatsView.as_view(), name="stats"),
]
