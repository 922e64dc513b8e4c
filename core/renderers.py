"""DRF renderers. Kept apart from core.api: DRF imports renderer classes while its
own views module loads, and core.api imports that module."""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's HTML pages, with the one CSP exception they need.

    DRF's templates put style="" attributes all over (pagination, filters, forms), so
    these pages alone allow inline styles; scripts stay 'self' only, as everywhere.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # Read by csp.middleware.CSPMiddleware, as its csp_update decorator does.
            response._csp_update = {"style-src": ["'unsafe-inline'"]}
        return super().render(data, accepted_media_type, renderer_context)
