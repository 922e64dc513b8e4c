"""The simulated vendor endpoints: thin, CSRF-exempt views (the vendors' own
signatures authenticate them) that hand each request to its vendor module
through `protocol.serve`, which journals it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from sandbox import ccp, cyj, huawei, igw, protocol
from sandbox.protocol import Exchange

_MODULES = {"ccp": ccp, "igw": igw, "huawei": huawei, "cyj": cyj}


def endpoint(
    vendor: str, methods: tuple[str, ...], handler: Callable[..., HttpResponse]
) -> Callable:
    render = _MODULES[vendor].render_rejection

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


ccp_account_info = endpoint("ccp", ("GET",), ccp.account_info)
ccp_sub_accounts = endpoint("ccp", ("POST",), ccp.create_sub_account)
ccp_get_sub_accounts = endpoint("ccp", ("POST",), ccp.get_sub_accounts)
ccp_sms = endpoint("ccp", ("POST",), ccp.sms_messages)
ccp_template_sms = endpoint("ccp", ("POST",), ccp.template_sms)
ccp_callback = endpoint("ccp", ("POST",), ccp.callback)

igw_account_status = endpoint("igw", ("GET",), igw.account_status)
igw_bind_axb = endpoint("igw", ("PUT",), igw.bind_axb)
igw_release_axb = endpoint("igw", ("DELETE",), igw.release_axb)
igw_transfer = endpoint("igw", ("PUT", "DELETE"), igw.transfer)

huawei_call_verify = endpoint("huawei", ("POST",), huawei.call_verify)

cyj_bind = endpoint("cyj", ("POST",), cyj.bind)
cyj_recording = endpoint("cyj", ("POST",), cyj.recording)
