"""CSV exports (callbacks/exports.py): keyset batches, the Excel-friendly CSV (masking,
formula defusing, offsets), the audit row, the background file with its progress
fragment, the owner-only download, expiry, and a background export on a real worker."""

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from callbacks import exports
from callbacks.exports import CSV_COLUMNS
from callbacks.models import CallRecord, CallRecordExport
from tests.factories import ReviewedCallFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = CallRecordExport.Status
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def media(tmp_path, settings, monkeypatch):
    # The environment too: a worker process started afterwards writes where we read.
    root = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def calls(igw_account):
    """12 calls, three of them at the same instant (ties the keyset settles by id)."""
    times = [T0 + timedelta(minutes=i) for i in range(9)] + [T0 + timedelta(minutes=4)] * 3
    return [
        ReviewedCallFactory(
            vendor_account=igw_account, call_id=f"call-{i:02d}", call_at=at, outcome="answered"
        )
        for i, at in enumerate(times)
    ]


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def _export_perm(user):
    user.user_permissions.add(Permission.objects.get(codename="export_callrecord"))


# ------------------------------------------------------------------ reading in batches


def test_batches_read_every_row_once_in_call_time_order(calls, django_assert_num_queries):
    expected = [r.pk for r in sorted(calls, key=lambda r: (r.call_at, r.pk))]
    # 12 rows by 5: three queries (5, 5, 2), the last one short so no fourth.
    with django_assert_num_queries(3):
        batches = list(exports.record_batches(CallRecord.objects.all(), batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 2]
    assert [row[0] for batch in batches for row in batch] == expected


def test_batches_split_rows_of_the_same_instant_without_losing_one(calls):
    # Batches of 4 cut the three calls at T0+4 min between two batches.
    batches = list(exports.record_batches(CallRecord.objects.all(), batch_size=4))
    ids = [row[0] for batch in batches for row in batch]
    assert sorted(ids) == sorted(r.pk for r in calls) and len(ids) == len(set(ids))


def test_a_full_last_batch_costs_one_empty_query(calls, django_assert_num_queries):
    with django_assert_num_queries(4):  # 4 + 4 + 4, then an empty seek
        assert len(list(exports.record_batches(CallRecord.objects.all(), batch_size=4))) == 3


@pytest.mark.parametrize("size", [1, 4, 5, 12, 50])
def test_prepared_batches_read_ahead_and_give_the_batches(calls, size):
    # On PostgreSQL each next batch is fetched in pipeline mode while this one is
    # prepared; the batches (a full last one included) are record_batches' exactly.
    records = CallRecord.objects.all()
    plain = list(exports.record_batches(records, batch_size=size))
    seen: list[list[tuple]] = []
    got = list(exports.prepared_batches(records, batch_size=size, prepare=seen.append))
    assert seen == plain
    assert [rows for _, rows in got] == [len(b) for b in plain]


def test_a_connection_used_between_prepared_batches_is_free(calls, igw_account):
    # A background export saves its progress between batches: nothing may be left
    # pending on the connection across a yield.
    for _, _rows in exports.prepared_batches(CallRecord.objects.all(), batch_size=5, prepare=len):
        assert CallRecord.objects.filter(vendor_account=igw_account).count() >= 12


def test_fast_fetch_gives_what_the_orm_gives(calls, igw_account):
    # Times at the edges of the zone's day and a far one (a vendor's 9999-12-31).
    ReviewedCallFactory(vendor_account=igw_account, call_id="late", call_at=T0.replace(hour=23))
    ReviewedCallFactory(
        vendor_account=igw_account,
        call_id="far",
        call_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        answer_at=datetime(2024, 3, 1, 10, 0, 1, 123456, tzinfo=UTC),
    )
    rows = CallRecord.objects.order_by("call_at", "id").values_list(*exports._FIELDS)
    fetched = exports._fetch(rows)
    assert len(fetched) == 14
    # Times come as the server's text (PostgreSQL); their CSV cells are when()'s.
    times = [i for i, name in enumerate(exports._FIELDS) if name.endswith("_at")]
    stamp = exports.stamper(timezone.get_current_timezone())
    for got, orm in zip(fetched, rows, strict=True):
        assert [v for i, v in enumerate(got) if i not in times] == [
            v for i, v in enumerate(orm) if i not in times
        ]
        assert [stamp(got[i]) for i in times] == [exports.when(orm[i]) for i in times]
    assert stamp(fetched[-1][4]) == "9999-12-31T23:59:59+00:00"  # cannot move east of UTC


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "Asia/Kathmandu"])
def test_stamps_are_when_across_offset_changes(zone):
    from zoneinfo import ZoneInfo

    stamp = exports.stamper(ZoneInfo(zone))
    start = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # New York's clocks go forward at 07:00
    for step in range(0, 4 * 3600, 617):
        at = start + timedelta(seconds=step, microseconds=step * 7919 % 10**6)
        text = f"{at:%Y-%m-%d %H:%M:%S.%f}+00"  # as PostgreSQL sends it
        assert stamp(text) == stamp(at) == exports.when(at, ZoneInfo(zone))
    assert stamp(None) == ""


def test_the_stream_is_one_piece_per_batch(calls, settings):
    settings.CALLBACKS_EXPORT_BATCH_ROWS = 5
    pieces = list(exports.csv_chunks(CallRecord.objects.all(), user=None))
    assert [rows for _, rows in pieces] == [0, 5, 5, 2]


# ------------------------------------------------------------------ the CSV


def test_csv_is_excel_friendly_bom_crlf_and_offsets(staff_client, calls):
    response = staff_client.get(reverse("callbacks:call_record_export"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    assert body.count(b"\r\n") == 13 and b"\n" not in body.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1][CSV_COLUMNS.index("call_at")] == "2024-03-01T18:00:00+08:00"


def test_export_csv_masks_and_defuses_formulas(staff_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, call_id="=cmd|' /C calc'!A0")
    rows = _csv(staff_client.get(reverse("callbacks:call_record_export")))
    assert rows[0][0] == "id"
    assert rows[1][3].startswith("'=")
    assert rows[1][5] == "138****8000"


def test_masking_reaches_free_text_and_spares_whole_number_holders(client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, raw_text="callee 13900139000 busy")
    user = UserFactory(roles=["Business staff"])
    client.force_login(user)
    row = _csv(client.get(reverse("callbacks:call_record_export")))[1]
    assert row[CSV_COLUMNS.index("raw_text")] == "callee 139****9000 busy"
    assert row[CSV_COLUMNS.index("x_number")] == "170****5678"
    user.user_permissions.add(Permission.objects.get(codename="view_full_numbers"))
    client.force_login(type(user).objects.get(pk=user.pk))  # fresh permission cache
    row = _csv(client.get(reverse("callbacks:call_record_export")))[1]
    assert row[CSV_COLUMNS.index("raw_text")] == "callee 13900139000 busy"
    assert row[CSV_COLUMNS.index("caller")] == "13800138000"


@pytest.mark.parametrize(
    "text",
    [" =1+1", "\xa0=2+2", "\u3000+SUM(A1)", "  -2+3", "\t@cmd", "\r=1", "@A1", "+1"],
)
def test_export_csv_defuses_formulas_behind_spaces(staff_client, igw_account, text):
    # Spreadsheets skip leading (Unicode) spaces before reading a formula.
    ReviewedCallFactory(vendor_account=igw_account, raw_text=text)
    row = _csv(staff_client.get(reverse("callbacks:call_record_export")))[1]
    assert row[CSV_COLUMNS.index("raw_text")] == "'" + text


def test_export_csv_leaves_plain_text_alone(staff_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, raw_text=" busy = no answer")
    row = _csv(staff_client.get(reverse("callbacks:call_record_export")))[1]
    assert row[CSV_COLUMNS.index("raw_text")] == " busy = no answer"


# ------------------------------------------------------------------ the audit


def test_inline_export_is_audited_with_its_filter_and_rows(staff_client, staff_user, calls):
    ReviewedCallFactory(vendor_account=calls[0].vendor_account, call_id="b", outcome="busy")
    response = staff_client.get(
        reverse("callbacks:call_record_export"),
        {"outcome": "answered", "page": "3", "unknown": "1\x00"},
    )
    export = CallRecordExport.objects.get()
    assert (export.mode, export.status) == ("inline", "queued")  # streaming has not begun
    assert len(_csv(response)) == 13
    export.refresh_from_db()
    assert (export.status, export.rows_written, export.user, export.username) == (
        "done",
        12,
        staff_user,
        "staff",
    )
    assert export.filters == {"outcome": ["answered"]}  # only filters are kept
    assert export.full_numbers is False and export.finished_at is not None


def test_an_abandoned_download_is_audited_as_interrupted(staff_user, calls, settings):
    settings.CALLBACKS_EXPORT_BATCH_ROWS = 5
    export = exports.export_start(user=staff_user, filters=QueryDict(""))
    stream = exports.export_stream(export=export)
    next(stream), next(stream)  # the header, then the first batch
    stream.close()  # the server closes the response when the client goes away
    export.refresh_from_db()
    assert (export.status, export.rows_written) == ("interrupted", 5)


def test_an_unusable_filter_is_a_400_and_audits_nothing(staff_client, calls):
    response = staff_client.get(reverse("callbacks:call_record_export"), {"date_from": "x"})
    assert response.status_code == 400 and b"date_from" in response.content
    assert not CallRecordExport.objects.exists()


def test_the_audit_page_lists_everyone_for_operators_and_ones_own_for_staff(
    client, operator, staff_user, calls
):
    other = UserFactory(username="other-staff", roles=["Business staff"])
    for user in (staff_user, other):
        exports.export_start(user=user, filters=QueryDict("outcome=answered"))
    url = reverse("callbacks:export_list")
    client.force_login(operator)
    assert len(client.get(url).context["page"]) == 2
    client.force_login(staff_user)
    page = client.get(url)
    assert [e.username for e in page.context["page"]] == ["staff"]
    assert "outcome=answered" in page.content.decode()
    client.force_login(UserFactory(username="nobody-here"))
    assert client.get(url).status_code == 403


def test_the_audit_masks_a_searched_number_for_staff(client, staff_user, operator, calls):
    export = exports.export_start(user=operator, filters=QueryDict("q=13800138000"))
    assert export.full_numbers is True
    client.force_login(operator)
    assert "13800138000" in client.get(reverse("callbacks:export_list")).content.decode()
    admin_html = client.get(reverse("callbacks:export_detail", args=[export.pk]))
    assert admin_html.status_code == 200
    client.force_login(staff_user)  # not theirs: not even its page
    assert client.get(reverse("callbacks:export_detail", args=[export.pk])).status_code == 404


# ------------------------------------------------------------------ background


@pytest.fixture
def small_threshold(settings):
    settings.CALLBACKS_EXPORT_BACKGROUND_ROWS = 5
    settings.CALLBACKS_EXPORT_BATCH_ROWS = 5


def test_estimate_is_exact_up_to_the_limit_and_above_it_beyond(calls):
    records = CallRecord.objects.all()
    assert exports.estimate_rows(records, limit=100) == 12
    assert exports.estimate_rows(records, limit=5) > 5
    assert exports.estimate_rows(records.filter(call_id="call-01"), limit=5) == 1


def test_above_the_threshold_the_export_is_a_file_with_the_same_bytes(
    staff_client, calls, media, small_threshold, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.get(reverse("callbacks:call_record_export"))
    export = CallRecordExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("callbacks:export_detail", args=[export.pk])
    assert (export.mode, export.status, export.rows_written) == ("background", "done", 12)
    assert export.expires_at > timezone.now() + timedelta(hours=23)
    assert export.file.name.startswith("exports/") and default_storage.exists(export.file.name)

    download = staff_client.get(reverse("callbacks:export_download", args=[export.pk]))
    assert download.status_code == 200
    assert 'filename="call-records-' in download["Content-Disposition"]
    file_bytes = b"".join(download.streaming_content)
    assert len(file_bytes) == export.file_size
    # The file is exactly what the streamed export of the same filter gives.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("callbacks.conf.export_background_rows", lambda: 1000)
        inline = staff_client.get(reverse("callbacks:call_record_export"))
    assert b"".join(inline.streaming_content) == file_bytes


def test_progress_fragment_polls_while_pending_then_offers_the_file(
    staff_client, staff_user, calls, media, small_threshold
):
    export = exports.export_start(user=staff_user, filters=QueryDict(""))
    state_url = reverse("callbacks:export_state", args=[export.pk])
    html = staff_client.get(state_url).content.decode()
    assert f'data-poll-url="{state_url}"' in html and "0 of about" in html
    assert "Download" not in html
    exports.export_write(export_id=export.pk)
    html = staff_client.get(state_url).content.decode()
    assert "data-poll-url" not in html and "12 rows" in html
    assert reverse("callbacks:export_download", args=[export.pk]) in html
    page = staff_client.get(reverse("callbacks:export_detail", args=[export.pk])).content.decode()
    assert "Download CSV" in page


def test_only_the_owner_downloads_and_whole_numbers_only_while_allowed(
    client, staff_user, calls, media, small_threshold
):
    exporter = UserFactory(username="full-exporter", roles=["Business staff"])
    full = Permission.objects.get(codename="view_full_numbers")
    exporter.user_permissions.add(full)
    export = exports.export_start(user=exporter, filters=QueryDict(""))
    exports.export_write(export_id=export.pk)
    url = reverse("callbacks:export_download", args=[export.pk])
    client.force_login(staff_user)  # may export, but it is not theirs
    assert client.get(url).status_code == 404
    client.force_login(exporter)
    body = b"".join(client.get(url).streaming_content).decode("utf-8-sig")
    assert "13800138000" in body
    exporter.user_permissions.remove(full)
    client.force_login(type(exporter).objects.get(pk=exporter.pk))  # fresh permission cache
    assert client.get(url).status_code == 404
    client.force_login(UserFactory(username="nobody-2"))
    assert client.get(url).status_code == 403


def test_a_background_export_whose_user_is_gone_fails(staff_user, calls, media, small_threshold):
    export = exports.export_start(user=staff_user, filters=QueryDict(""))
    staff_user.delete()
    export = exports.export_write(export_id=export.pk)
    assert export.status == "failed" and "no longer exists" in export.error
    assert not export.file


def test_expiry_deletes_old_files_and_fails_silent_exports(staff_user, media):
    now = timezone.now()
    old = CallRecordExport.objects.create(
        user=staff_user, username="staff", mode="background", status="done", expires_at=now
    )
    old.file.save("exports/old.csv", ContentFile(b"id\r\n"), save=True)
    fresh = CallRecordExport.objects.create(
        user=staff_user,
        username="staff",
        mode="background",
        status="done",
        expires_at=now + timedelta(hours=1),
    )
    fresh.file.save("exports/fresh.csv", ContentFile(b"id\r\n"), save=True)
    stuck = CallRecordExport.objects.create(
        user=staff_user, username="staff", mode="background", status="running"
    )
    CallRecordExport.objects.filter(pk=stuck.pk).update(updated_at=now - timedelta(hours=1))
    old_name = old.file.name

    assert exports.export_expire(now=now + timedelta(seconds=1)) == 1
    old.refresh_from_db(), fresh.refresh_from_db(), stuck.refresh_from_db()
    assert (old.status, old.file.name) == ("expired", "")
    assert not default_storage.exists(old_name) and default_storage.exists(fresh.file.name)
    assert fresh.status == "done" and stuck.status == "failed"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_background_export_on_a_real_worker(media, calls, settings, celery_worker_process):
    settings.CALLBACKS_EXPORT_BACKGROUND_ROWS = 5
    user = UserFactory(username="worker-staff", roles=["Business staff"])
    export = exports.export_start(user=user, filters=QueryDict("outcome=answered"))
    assert export.mode == "background"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if not export.is_pending:
            break
        time.sleep(0.2)
    assert (export.status, export.rows_written) == ("done", 12), export.error
    with default_storage.open(export.file.name, "rb") as handle:
        rows = list(csv.reader(io.StringIO(handle.read().decode("utf-8-sig"))))
    assert len(rows) == 13 and rows[1][CSV_COLUMNS.index("caller")] == "138****8000"
