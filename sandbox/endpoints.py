"""The simulated vendor endpoints: one catch-all route, /sandbox/<vendor>/<path>,
that finds the vendor's sandbox module through the vendors registry and serves
the request with the module's own `ROUTES` (see sandbox/protocol.py for what a
vendor module provides).

Each route's view is thin and CSRF-exempt (the vendors' own signatures
authenticate them) and hands the request to its handler through
`protocol.serve`, which journals it.  Nothing here names a vendor: a vendor
registered in vendors.REGISTRY is served as soon as its module exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import Resolver404, path
from django.urls.resolvers import RegexPattern, URLResolver
from django.views.decorators.csrf import csrf_exempt

import vendors
from sandbox import protocol
from sandbox.protocol import Exchange, Renderer

logger = logging.getLogger("sandbox")


def endpoint(
    vendor: str,
    methods: tuple[str, ...],
    handler: Callable[..., HttpResponse],
    render: Renderer,
) -> Callable:
    @csrf_exempt
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        def run(exchange: Exchange) -> HttpResponse:
            if request.method not in methods:
                exchange.verdict = "method_not_allowed"
                return HttpResponseNotAllowed(methods)
            return handler(exchange, **kwargs)

        return protocol.serve(request, vendor=vendor, handler=run, render=render)

    view.__name__ = f"{vendor}_{handler.__name__}"
    return view


@lru_cache(maxsize=64)
def _resolver(vendor: str, module_name: str) -> URLResolver:
    # Keyed by the module's name too: a code registered again (tests) with another
    # module must not be served by the old one's routes.
    module = protocol.vendor_module(vendor)
    render = module.render_rejection
    patterns = [
        path(route.pattern, endpoint(vendor, route.methods, route.handler, render))
        for route in module.ROUTES
    ]
    return URLResolver(RegexPattern(r"^"), patterns)


@csrf_exempt
def dispatch(request: HttpRequest, vendor: str, rest: str) -> HttpResponse:
    """/sandbox/<vendor>/<rest>: the vendor module's route for `rest`, else 404."""
    cls = vendors.REGISTRY.get(vendor)
    if cls is None:
        raise Http404("no such vendor in the sandbox")
    try:
        resolver = _resolver(vendor, cls.sandbox_module_name())
    except ModuleNotFoundError:
        # A vendor registered without an emulation: nothing is served for it.
        logger.warning("sandbox: no module %s for vendor %s", cls.sandbox_module_name(), vendor)
        raise Http404(f"the sandbox does not emulate {vendor}") from None
    try:
        match = resolver.resolve(rest)
    except Resolver404:
        raise Http404(f"no {vendor} endpoint at this path") from None
    return match.func(request, *match.args, **match.kwargs)
