"""Views of the callbacks app: the vendor webhook, the review pages, CSV exports,
recording playback.

Thin on purpose: the webhook hands an `Inbound` to services.delivery_receive
and maps the stored outcome to a status code; pages read through selectors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import vendors
from accounts.models import VendorAccount
from callbacks import conf, exports, hotsql, selectors, services, webhooks
from callbacks.filters import SORT_CHOICES, STARTED_BY_CHOICES, CallRecordFilter
from callbacks.models import OUTCOME_CHOICES, CallRecord, CallRecordExport, Delivery
from core.decorators import require_perm
from core.filters import list_or_errors, page_errors
from core.pagination import CURSOR_PARAM, KeysetPage, paginate
from core.phones import display_text
from core.views import confirm_page

logger = logging.getLogger(__name__)

Outcome = Delivery.Outcome


class Answer:
    """What the vendor hears back: a status per outcome."""

    STATUS: dict[str, int] = {
        Outcome.ACCEPTED: 200,
        Outcome.DUPLICATE: 200,  # acknowledged: the vendor must stop retrying
        Outcome.REJECTED_AUTH: 401,
        Outcome.REJECTED_INVALID: 400,
        Outcome.FAILED_PROCESSING: 500,  # the vendor retries; we replay if it gives up
        # Stored and queued for the normalizer: acknowledged.  (Unauthenticated, it
        # is a failure that could not even be recorded: 500, the vendor retries.)
        Outcome.RECEIVED: 200,
    }
    # The body of a 2xx is the vendor client's `callback_ack`.

    @classmethod
    def status(cls, delivery: Delivery) -> int:
        if delivery.outcome == Outcome.RECEIVED and not services.is_queued(delivery):
            return 500
        return cls.STATUS[delivery.outcome]


def _plain(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    """/callbacks/<webhook_token>/<kind>/: authenticate, parse, store raw, answer.

    The account comes from this process's memory once read; if it changed
    since, nothing is stored (AccountChanged) and the delivery starts over with
    the account read afresh."""
    body: list = []  # read once, kept for a second attempt
    for fresh in (False, True, True):
        try:
            return _webhook(request, token, kind, body, fresh=fresh)
        except services.AccountChanged:
            continue
        except DatabaseError:
            logger.exception("callbacks: database unavailable for a webhook")
            return _plain(503, "temporarily unavailable, retry later")
    return _plain(503, "temporarily unavailable, retry later")  # changing under us


def _webhook(request: HttpRequest, token: str, kind: str, body: list, *, fresh: bool):
    lookup = hotsql.account_by_token if fresh else hotsql.account_for_webhook
    account = lookup(token)  # DatabaseError: the caller answers 503
    client_cls = vendors.REGISTRY.get(account.vendor) if account is not None else None
    if client_cls is None:
        return _plain(404, "unknown callback URL")
    if not body:
        try:
            body.append(webhooks.read_body(request))
        except webhooks.BodyRefused as exc:
            body.append(exc)
    if isinstance(body[0], webhooks.BodyRefused):
        return _refuse(request, account, kind, client_cls, body[0])
    inbound = webhooks.inbound(request, body[0], client_cls)
    delivery = services.delivery_receive(account=account, kind=kind, inbound=inbound)
    status = Answer.status(delivery)
    if kind not in client_cls.callback_kinds:
        return _plain(404, f"unknown callback kind (delivery {delivery.pk} kept)")
    if status == 200:
        ctype, payload = client_cls.callback_ack
        return HttpResponse(payload, content_type=ctype)
    if delivery.outcome == Outcome.REJECTED_AUTH:
        # The reason names what we expected: keep it for operators, not the caller.
        message = "authentication failed"
    elif delivery.outcome == Outcome.REJECTED_INVALID:
        message = delivery.reason
    else:
        message = "processing failed; retry later"
    return JsonResponse(
        {"outcome": delivery.outcome, "delivery": delivery.pk, "message": message}, status=status
    )


def _refuse(request, account, kind, client_cls, exc: webhooks.BodyRefused) -> HttpResponse:
    """A body we will not take: answered at once, kept without its bytes if we can."""
    try:
        services.delivery_refuse(
            account=account,
            kind=kind,
            inbound=webhooks.inbound(request, b"", client_cls),
            size=exc.size,
            reason=exc.reason,
        )
    except DatabaseError:
        logger.exception("callbacks: cannot record a refused delivery body")
    return _plain(exc.status, exc.answer)


# --------------------------------------------------------------------- call records


def _accounts():
    return VendorAccount.objects.order_by("name").only("pk", "name", "vendor")


@require_perm("callbacks.view_callrecord")
def call_record_list(request: HttpRequest) -> HttpResponse:
    """Keyset pages (`cursor`) with an estimated total: no OFFSET, no COUNT(*)."""
    try:
        page, estimate = selectors.call_record_page(filters=request.GET, user=request.user)
        filter_errors = []
    except ValidationError as exc:
        page, estimate, filter_errors = KeysetPage([], None, None), 0, page_errors(exc)
    filters = request.GET.copy()
    filters.pop(CURSOR_PARAM, None)
    return render(
        request,
        "callbacks/call_record_list.html",
        {
            "page": page,
            "estimate": estimate,
            "filter_errors": filter_errors,
            "accounts": _accounts(),
            "vendors": vendors.choices(),
            "outcomes": OUTCOME_CHOICES,
            "sorts": SORT_CHOICES,
            "release_sides": CallRecordFilter.base_filters["release_side"].extra["choices"],
            "started_by": STARTED_BY_CHOICES,
            "query": filters.urlencode(),
            "filtered": bool(filters),
        },
    )


@require_perm("callbacks.view_callrecord", "callbacks.export_callrecord")
def call_record_export(request: HttpRequest) -> HttpResponse:
    """The list's rows as CSV: streamed now, or a background file past the threshold."""
    try:
        export = services.export_start(user=request.user, filters=request.GET)
    except ValidationError as exc:
        # Never a silent export of everything: say which filter is unusable.
        return _plain(400, "\n".join(page_errors(exc)))
    if export.mode == CallRecordExport.Mode.BACKGROUND:
        return redirect("callbacks:export_detail", pk=export.pk)
    response = StreamingHttpResponse(
        services.export_stream(export=export), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="call-records.csv"'
    return response


def _export_for(request: HttpRequest, pk: int) -> CallRecordExport:
    """An export the user may look at (theirs, or any with the audit permission)."""
    return get_object_or_404(selectors.call_record_export_list(user=request.user), pk=pk)


def _export_context(request: HttpRequest, export: CallRecordExport) -> dict:
    return {"export": export, "may_download": exports.export_may_download(export, request.user)}


@login_required
def export_list(request: HttpRequest) -> HttpResponse:
    """The export audit (everyone's with callbacks.view_callrecordexport, else one's own)."""
    user = request.user
    if not user.has_perm("callbacks.view_callrecordexport") and not user.has_perm(
        "callbacks.export_callrecord"
    ):
        raise PermissionDenied
    exports_page = paginate(request, selectors.call_record_export_list(user=user))
    return render(request, "callbacks/export_list.html", {"page": exports_page})


@login_required
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    export = _export_for(request, pk)
    return render(request, "callbacks/export_detail.html", _export_context(request, export))


@login_required
def export_state(request: HttpRequest, pk: int) -> HttpResponse:
    """Fragment for polling: status, progress, and the download link once ready."""
    export = _export_for(request, pk)
    return render(request, "callbacks/_export_state.html", _export_context(request, export))


@require_perm("callbacks.view_callrecord", "callbacks.export_callrecord")
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """A background export's file, to the user who asked for it only."""
    export = get_object_or_404(CallRecordExport, pk=pk)
    if not exports.export_may_download(export, request.user):
        raise Http404("No such export file")
    response = FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"call-records-{export.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_perm("callbacks.view_callrecord")
def call_record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        record = selectors.call_record_get(pk=pk)
    except CallRecord.DoesNotExist:
        raise Http404("No such call record") from None
    events = list(selectors.call_event_list(record=record))
    operator = request.user.has_perm("callbacks.view_delivery")
    return render(
        request,
        "callbacks/call_record_detail.html",
        {
            "record": record,
            "events": events,
            "timeline": selectors.call_timeline(record=record, events=events),
            "result_meaning": selectors.call_result_meaning(record=record),
            "deliveries": selectors.call_record_deliveries(record=record) if operator else None,
        },
    )


# --------------------------------------------------------------------- playback

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a single "bytes=" range; None without a header.
    Raises ValueError for a malformed or unsatisfiable one (answered 416)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise ValueError(header)
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise ValueError(header)
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError(header)
    return start, end


def _file_slice(handle, start: int, length: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            data = handle.read(min(chunk, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


@require_perm("callbacks.view_callrecord", "callbacks.play_recording")
def recording_play(request: HttpRequest, pk: int) -> HttpResponse:
    """Stream a downloaded recording to an authorized user, with Range support,
    auditing every request.  Recordings are never reachable by a media URL."""
    record = get_object_or_404(CallRecord, pk=pk)
    if not record.has_recording:
        raise Http404("No downloaded recording for this call")
    storage = record.recording_file.storage
    size = record.recording_size
    if size is None:
        size = storage.size(record.recording_file.name)
    header = request.headers.get("Range", "")
    try:
        wanted = parse_range(header, size)
    except ValueError:
        services.recording_playback_log(
            record=record, user=request.user, byte_range=header, status_code=416
        )
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    handle = storage.open(record.recording_file.name, "rb")
    if wanted is None:
        response = FileResponse(handle, content_type=record.recording_content_type)
        response["Content-Length"] = str(size)
        status = 200
    else:
        first, last = wanted
        response = StreamingHttpResponse(
            _file_slice(handle, first, last - first + 1),
            status=206,
            content_type=record.recording_content_type,
        )
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
        status = 206
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    services.recording_playback_log(
        record=record, user=request.user, byte_range=header, status_code=status
    )
    return response


# --------------------------------------------------------------------- deliveries


@require_perm("callbacks.view_delivery")
def delivery_list(request: HttpRequest) -> HttpResponse:
    deliveries, filter_errors = list_or_errors(
        selectors.delivery_list, Delivery, filters=request.GET, user=request.user
    )
    return render(
        request,
        "callbacks/delivery_list.html",
        {
            "page": paginate(request, deliveries),
            "filter_errors": filter_errors,
            "accounts": _accounts(),
            "outcomes": Outcome.choices,
        },
    )


@require_perm("callbacks.view_delivery")
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("vendor_account"), pk=pk)
    body = bytes(delivery.body)
    # Bodies carry whole phone numbers: only for users who may see them.
    show_body = request.user.has_perm("accounts.view_full_numbers")
    auth_expected, auth_received = selectors.delivery_shown_auth(delivery)
    return render(
        request,
        "callbacks/delivery_detail.html",
        {
            "delivery": delivery,
            "headers": selectors.delivery_shown_headers(delivery),
            "auth_expected": auth_expected,
            "auth_received": auth_received,
            "show_body": show_body,
            "body_text": body.decode("utf-8", "replace") if show_body else "",
            "body_retention_days": conf.delivery_body_retention_days(),
            "records": CallRecord.objects.filter(
                vendor_account_id=delivery.vendor_account_id, call_id__in=delivery.call_ids or []
            ),
        },
    )


@require_perm("callbacks.view_delivery", "callbacks.replay_delivery")
def delivery_replay(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST replays."""
    delivery = get_object_or_404(Delivery.objects.select_related("vendor_account"), pk=pk)
    if request.method == "POST":
        try:
            delivery = services.delivery_replay(
                delivery=delivery,
                user=request.user,
                skip_auth=request.POST.get("skip_auth") == "1",
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            level = messages.success if not delivery.is_replayable else messages.warning
            level(
                request,
                f"Delivery {delivery.pk} replayed: {delivery.get_outcome_display()}"
                + (f" ({display_text(delivery.reason, request.user)})" if delivery.reason else ""),
            )
        return redirect("callbacks:delivery_detail", pk=delivery.pk)
    skip_auth = request.GET.get("skip_auth") == "1"
    return confirm_page(
        request,
        title=f"Replay delivery {delivery.pk}"
        + (" without checking its authentication?" if skip_auth else "?"),
        body=f"The {delivery.vendor} {delivery.kind} delivery received "
        f"{delivery.received_at:%Y-%m-%d %H:%M:%S} ({delivery.get_outcome_display()}) "
        "is processed again with the account's current settings. Records already "
        "stored are not duplicated."
        + (
            " Its signature, source IP and nonce are NOT checked: replay it only if "
            "you verified by other means that the vendor sent it."
            if skip_auth
            else ""
        ),
        action="Replay, trusting it" if skip_auth else "Replay",
        danger=skip_auth,
        hidden={"skip_auth": "1"} if skip_auth else {},
    )


# --------------------------------------------------------------------- gaps


@require_perm("callbacks.view_callrecord")
def gap_list(request: HttpRequest) -> HttpResponse:
    from callbacks import conf

    return render(
        request,
        "callbacks/gap_list.html",
        {
            "page": paginate(request, selectors.gap_records()),
            "bindings": selectors.gap_bindings()[:100],
            "minutes": conf.cdr_gap_minutes(),
            "vendors": vendors.choices(),
        },
    )
