"""The webhook's fast path: vendor callbacks skip the middleware they never use.

A vendor's POST to /callbacks/<token>/<kind>/ carries no cookie, no session, no
CSRF token and no login; its answer is a short text or JSON body, never a page
to frame or a script to police.  Sessions, CSRF, authentication, messages,
CSP, X-Frame-Options, axes and WhiteNoise cost ~15 % of the webhook's CPU on a
small box (measured by bench/bench_callbacks.py), so this middleware, right
after SecurityMiddleware (HTTPS redirect, HSTS and nosniff still apply),
hands such a request straight to the webhook view.  Everything else, and a
callback URL asked with another method (405 as usual), takes the full chain.

What the webhook keeps: the host check (ALLOWED_HOSTS, in
build_absolute_uri), the body cap (webhooks.read_body), vendor
authentication, and Django's exception handling around every middleware (an
error is still logged and answered 500, never leaked).
"""

from __future__ import annotations

import re

from django.urls import get_script_prefix, reverse


class WebhookFastPath:
    def __init__(self, get_response):
        self.get_response = get_response
        self._pattern: re.Pattern[str] | None = None

    def _webhook_pattern(self) -> re.Pattern[str]:
        # Built from the URLconf on first use (the mount point is the URLconf's
        # business); the token and kind rules are webhook_urls' own.
        if self._pattern is None:
            from callbacks.webhook_urls import KIND, TOKEN

            mounted = reverse("callbacks-webhook", kwargs={"token": "T", "kind": "K"})
            prefix = "/" + mounted[len(get_script_prefix()) :].removesuffix("T/K/")
            self._pattern = re.compile(
                rf"^{re.escape(prefix)}(?P<token>{TOKEN})/(?P<kind>{KIND})/$"
            )
        return self._pattern

    def __call__(self, request):
        if request.method == "POST":
            match = self._webhook_pattern().match(request.path_info)
            if match is not None:
                from callbacks.views import webhook

                return webhook(request, **match.groupdict())
        return self.get_response(request)
