"""API routes of the privacy app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from privacy.api import BindingViewSet

router = SimpleRouter()
router.register("bindings", BindingViewSet, basename="binding")

urlpatterns = router.urls
