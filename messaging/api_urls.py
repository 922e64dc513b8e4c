"""API routes of the messaging app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from messaging.api import MessageViewSet
from messaging.calls_api import TwoWayCallViewSet, VoiceCodeViewSet

router = SimpleRouter()
router.register("sms", MessageViewSet, basename="sms")
router.register("two-way-calls", TwoWayCallViewSet, basename="two-way-call")
router.register("voice-codes", VoiceCodeViewSet, basename="voice-code")

urlpatterns = router.urls
