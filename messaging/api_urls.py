"""API routes of the messaging app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from messaging.api import MessageViewSet

router = SimpleRouter()
router.register("sms", MessageViewSet, basename="sms")

urlpatterns = router.urls
