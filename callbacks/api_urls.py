"""API routes of the callbacks app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from callbacks.api import CallRecordViewSet

router = SimpleRouter()
router.register("call-records", CallRecordViewSet, basename="call-record")

urlpatterns = router.urls
