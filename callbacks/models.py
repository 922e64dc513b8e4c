"""The delivery inbox, normalized call records and events, and the playback audit.

Delivery is the raw inbox (dj-stripe's WebhookEventTrigger): one row per HTTP
delivery to a known webhook token, with the outcome of processing it, committed
in the same transaction as the rows it produced (or alone, as a rejection or a
failure) before the vendor gets any answer.  CallRecord and CallEvent are the normalized facts,
stored once whatever the number of deliveries thanks to unique constraints.
RecordingPlayback audits every request to the playback view; CallRecordExport
audits every CSV export (and holds a background export's file).  CallHourStat,
CallHourTotal and CallHourX are the rollups the dashboards read
(callbacks/rollups.py keeps them exact), RollupState their refresh watermark,
PruneMark the retention jobs' (callbacks/retention.py).  CallbackNonce remembers
signed nonces (huawei X-AKSK) while their signature is fresh.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

import vendors


class Delivery(models.Model):
    """One HTTP delivery to /callbacks/<token>/<kind>/ for a known token."""

    class Outcome(models.TextChoices):
        # Stored, not normalized yet: authenticated and parsed on arrival and waiting
        # for the normalizer's next batch; or, unauthenticated, a failure that could
        # not even be recorded (database lost).
        RECEIVED = "received", "Received"
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate"
        REJECTED_AUTH = "rejected_auth", "Rejected: authentication"
        REJECTED_INVALID = "rejected_invalid", "Rejected: invalid payload"
        FAILED_PROCESSING = "failed_processing", "Failed processing"

    class Signature(models.TextChoices):
        NOT_CHECKED = "", "Not checked"
        VALID = "valid", "Valid"
        # huawei push_signature=verify: recorded and accepted all the same.
        INVALID = "invalid", "Invalid (accepted: verify mode)"

    # Outcomes an operator may want to replay once the account or the code is fixed.
    REPLAYABLE = (
        Outcome.RECEIVED,
        Outcome.REJECTED_AUTH,
        Outcome.REJECTED_INVALID,
        Outcome.FAILED_PROCESSING,
    )

    # What a processing run (first try or replay) writes; the raw fields never change.
    PROCESSING_FIELDS = (
        "outcome",
        "reason",
        "auth_expected",
        "auth_received",
        "authenticated",
        "signature",
        "traceback",
        "call_ids",
        "processed_at",
        "attempts",
        "replayed_at",
        "replayed_by",
    )

    vendor_account = models.ForeignKey(
        "accounts.VendorAccount", on_delete=models.PROTECT, related_name="deliveries"
    )
    vendor = models.CharField(max_length=16)
    kind = models.CharField(max_length=32)
    received_at = models.DateTimeField(default=timezone.now)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    # The URL as the vendor addressed it (huawei signs it); holds the webhook token,
    # so pages show `display_url`.
    url = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    content_type = models.CharField(max_length=200, blank=True, default="")
    body = models.BinaryField(default=b"", blank=True)
    body_size = models.PositiveIntegerField(default=0)
    # Set when the retention job emptied `body` (DELIVERY_BODY_RETENTION_DAYS); the
    # row, its outcome and body_size stay: callbacks/retention.py.
    body_pruned_at = models.DateTimeField(null=True, blank=True)

    outcome = models.CharField(max_length=24, choices=Outcome.choices, default=Outcome.RECEIVED)
    reason = models.TextField(blank=True, default="")
    auth_expected = models.TextField(blank=True, default="")
    auth_received = models.TextField(blank=True, default="")
    # True once the delivery passed authentication (replays do not re-check it:
    # the stored headers are redacted and a replay happens long after any window).
    authenticated = models.BooleanField(default=False)
    signature = models.CharField(
        max_length=8, choices=Signature.choices, blank=True, default=Signature.NOT_CHECKED
    )
    traceback = models.TextField(blank=True, default="")
    call_ids = models.JSONField(default=list, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "deliveries"
        permissions = [("replay_delivery", "Can replay a vendor callback delivery")]
        indexes = [
            models.Index(fields=["outcome", "received_at"], name="callbacks_deliv_outcome"),
            models.Index(fields=["vendor_account", "received_at"], name="callbacks_deliv_account"),
            # The normalizer's queue: only rows waiting for it, so it stays tiny.
            models.Index(
                fields=["id"],
                name="callbacks_deliv_queued",
                condition=models.Q(outcome="received", authenticated=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.kind} #{self.pk} ({self.outcome})"

    @property
    def display_url(self) -> str:
        """The URL with the webhook token elided (it is a credential of sorts)."""
        return re.sub(r"/callbacks/[^/]+/", "/callbacks/…/", self.url)

    @property
    def is_replayable(self) -> bool:
        return self.outcome in self.REPLAYABLE and self.body_pruned_at is None

    def set_outcome(self, outcome: str, **fields: Any) -> None:
        """Record a processing run's verdict (not saved: PROCESSING_FIELDS are)."""
        self.outcome = outcome
        for name, value in fields.items():
            setattr(self, name, value)
        self.processed_at = timezone.now()


OUTCOME_CHOICES = [(o.value, o.value.replace("_", " ")) for o in vendors.CallOutcome]


class CallRecord(models.Model):
    """One call, created by whichever of its CDR or events arrives first."""

    class RecordingStatus(models.TextChoices):
        NONE = "none", "None"
        PENDING = "pending", "Pending"
        DOWNLOADING = "downloading", "Downloading"
        DOWNLOADED = "downloaded", "Downloaded"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    class ReleaseSide(models.TextChoices):
        UNKNOWN = "", "Unknown"
        CALLER = "caller", "Caller"
        CALLEE = "callee", "Callee"
        PLATFORM = "platform", "Platform"

    vendor_account = models.ForeignKey(
        "accounts.VendorAccount", on_delete=models.PROTECT, related_name="call_records"
    )
    vendor = models.CharField(max_length=16)
    call_id = models.CharField(max_length=256)
    binding = models.ForeignKey(
        "privacy.Binding",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="call_records",
    )
    vendor_binding_id = models.CharField(max_length=64, blank=True, default="")
    caller = models.CharField(max_length=64, blank=True, default="")
    callee = models.CharField(max_length=64, blank=True, default="")
    x_number = models.CharField(max_length=64, blank=True, default="")
    # "" until the CDR says how the call ended.
    outcome = models.CharField(max_length=16, choices=OUTCOME_CHOICES, blank=True, default="")
    raw_code = models.CharField(max_length=64, blank=True, default="")
    raw_text = models.CharField(max_length=256, blank=True, default="")
    begin_at = models.DateTimeField(null=True, blank=True)
    ring_at = models.DateTimeField(null=True, blank=True)
    answer_at = models.DateTimeField(null=True, blank=True)
    release_at = models.DateTimeField(null=True, blank=True)
    # The earliest time known for the call; lists sort and filter on it.
    call_at = models.DateTimeField(default=timezone.now)
    duration = models.PositiveIntegerField(default=0)
    release_side = models.CharField(
        max_length=8, choices=ReleaseSide.choices, blank=True, default=""
    )
    user_data = models.CharField(max_length=256, blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    has_cdr = models.BooleanField(default=False)
    cdr_received_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    recording_url = models.TextField(blank=True, default="")
    recording_status = models.CharField(
        max_length=12, choices=RecordingStatus.choices, default=RecordingStatus.NONE
    )
    recording_file = models.FileField(max_length=300, blank=True, default="")
    recording_size = models.BigIntegerField(null=True, blank=True)
    recording_sha256 = models.CharField(max_length=64, blank=True, default="")
    recording_content_type = models.CharField(max_length=100, blank=True, default="")
    recording_attempts = models.PositiveSmallIntegerField(default=0)
    recording_last_error = models.TextField(blank=True, default="")
    recording_next_at = models.DateTimeField(null=True, blank=True)
    recording_claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-call_at", "-id"]
        permissions = [
            ("play_recording", "Can play call recordings"),
            ("export_callrecord", "Can export call records as CSV"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor_account", "call_id"], name="callbacks_record_account_call"
            ),
        ]
        indexes = [
            models.Index(fields=["call_at"], name="callbacks_record_call_at"),
            models.Index(fields=["vendor_account", "call_at"], name="callbacks_record_acct_at"),
            models.Index(
                fields=["recording_status", "recording_next_at"], name="callbacks_record_rec"
            ),
            models.Index(fields=["has_cdr", "first_seen_at"], name="callbacks_record_gap"),
            # The list's keyset on duration: ties are many (every unanswered call is 0 s),
            # so id must be in the index for a seek to skip them.
            models.Index(fields=["duration", "id"], name="callbacks_record_dur"),
            # A complete number matches exactly on these; fragments use the pg_trgm GIN
            # index made by migration 0005 (PostgreSQL only).
            models.Index(fields=["caller"], name="callbacks_record_caller"),
            models.Index(fields=["callee"], name="callbacks_record_callee"),
            models.Index(fields=["x_number"], name="callbacks_record_x"),
            # The rollup refresh finds records changed since its last run (a CDR hours
            # late) without scanning the table: callbacks/rollups.py.
            models.Index(fields=["updated_at"], name="callbacks_record_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} call {self.call_id}"

    @property
    def has_recording(self) -> bool:
        return self.recording_status == self.RecordingStatus.DOWNLOADED and bool(
            self.recording_file
        )


class CallEvent(models.Model):
    """A call status event; duplicates collapse on (record, kind, occurred_at)."""

    class Kind(models.TextChoices):
        CALL_START = "call_start", "Call start"
        CALLOUT = "callout", "Call out"
        ALERTING = "alerting", "Alerting"
        ANSWER = "answer", "Answer"
        DISCONNECT = "disconnect", "Disconnect"

    call_record = models.ForeignKey(CallRecord, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    caller = models.CharField(max_length=64, blank=True, default="")
    callee = models.CharField(max_length=64, blank=True, default="")
    x_number = models.CharField(max_length=64, blank=True, default="")
    state_code = models.CharField(max_length=32, blank=True, default="")
    state_text = models.CharField(max_length=256, blank=True, default="")
    user_data = models.CharField(max_length=256, blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["call_record", "kind", "occurred_at"], name="callbacks_event_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class RecordingPlayback(models.Model):
    """Audit: who fetched which recording, when, and which byte range."""

    call_record = models.ForeignKey(CallRecord, on_delete=models.CASCADE, related_name="playbacks")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    username = models.CharField(max_length=150)  # kept if the user is deleted
    at = models.DateTimeField(default=timezone.now)
    range = models.CharField(max_length=100, blank=True, default="")
    status_code = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.username} played {self.call_record_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class CallbackNonce(models.Model):
    """A signed callback nonce already used, kept until its signature goes stale.

    Why the database and not Redis: the claim commits in the same transaction as
    the delivery it authenticated (a rolled-back delivery does not burn the
    nonce), the quick start has no Redis, and a unique index is the whole
    mechanism (INSERT ... ON CONFLICT DO NOTHING, no read-then-write).  Rows
    past `expires_at` are useless (Created is stale by then) and are pruned by
    the callbacks.tasks.callback_nonce_prune beat task.
    """

    vendor_account = models.ForeignKey(
        "accounts.VendorAccount", on_delete=models.CASCADE, related_name="+"
    )
    nonce = models.CharField(max_length=128)
    # A vendor retry may reuse its headers with the same body: allowed.  Only
    # another body under the same nonce is a forgery.
    body_sha256 = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vendor_account", "nonce"], name="callbacks_nonce_account_nonce"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="callbacks_nonce_expires")]

    def __str__(self) -> str:
        return f"nonce of account {self.vendor_account_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class CallRecordExport(models.Model):
    """Audit of one CSV export of call records, and the file of a background one.

    Every export gets a row (who, which filter, when, how many rows, inline or
    background, how it ended). A background export's file lives in the default
    storage until `expires_at`; a beat task deletes it then (callbacks.exports).
    """

    class Mode(models.TextChoices):
        INLINE = "inline", "Inline (streamed)"
        BACKGROUND = "background", "Background (file)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # An inline download the client abandoned before its last row.
        INTERRUPTED = "interrupted", "Interrupted"
        EXPIRED = "expired", "Expired (file deleted)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    username = models.CharField(max_length=150)  # kept if the user is deleted
    # The query string as the list page had it: {name: [values]} (repeatable keys).
    filters = models.JSONField(default=dict, blank=True)
    # Whether the rows hold whole numbers (the user had view_full_numbers then): the
    # file is refused to them later if they lose that permission.
    full_numbers = models.BooleanField(default=False)
    mode = models.CharField(max_length=12, choices=Mode.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    estimated_rows = models.BigIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    file = models.FileField(max_length=300, blank=True, default="")
    file_size = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="callbacks_export_user"),
            models.Index(fields=["status", "expires_at"], name="callbacks_export_status"),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} by {self.username} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    def filter_query(self):
        """The stored filter as the QueryDict the list page had."""
        from django.http import QueryDict

        query = QueryDict(mutable=True)
        for key, values in self.filters.items():
            query.setlist(key, list(values))
        return query

    @property
    def query(self) -> str:
        """The stored filter as a query string (links back to the list page)."""
        return self.filter_query().urlencode()

    @property
    def is_downloadable(self) -> bool:
        done = self.status == self.Status.DONE
        return done and self.mode == self.Mode.BACKGROUND and bool(self.file)

    @property
    def percent(self) -> int:
        """Progress against the estimate, capped: estimates are approximate."""
        if not self.estimated_rows:
            return 0
        return min(99, int(100 * self.rows_written / self.estimated_rows))


class HourRollup(models.Model):
    """What every call rollup holds for its hour and vendor account (abstract)."""

    hour = models.DateTimeField()
    vendor_account = models.ForeignKey(
        "accounts.VendorAccount", on_delete=models.CASCADE, related_name="+"
    )
    calls = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    # Sum of the answered calls' durations (ACD = talk_seconds / answered).
    talk_seconds = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class CallHourStat(HourRollup):
    """Rollup: the calls of one UTC hour × vendor account × X number × outcome.

    Derived from CallRecord only (callbacks/rollups.py recomputes whole hours), so
    any row can be dropped and rebuilt.  Outcome "" counts calls whose CDR has not
    arrived yet; x_number "" calls without one."""

    x_number = models.CharField(max_length=64, blank=True, default="")
    outcome = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "vendor_account", "x_number", "outcome"],
                name="callbacks_hourstat_key",
            ),
        ]
        indexes = [
            models.Index(fields=["x_number", "hour"], name="callbacks_hourstat_x"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.hour:%Y-%m-%d %H}h {self.x_number or '-'} {self.outcome or '-'}: {self.calls}"
        )


class CallHourTotal(HourRollup):
    """Rollup of CallHourStat without the X number: the dashboard's totals and
    charts read a few rows per hour instead of one per X number."""

    outcome = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "vendor_account", "outcome"], name="callbacks_hourtotal_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.outcome or '-'}: {self.calls}"


class CallHourX(HourRollup):
    """Rollup of CallHourStat without the outcome: one row per hour × account × X
    number, so "busiest X numbers" over a month reads a few rows per X and hour.
    `ended` counts the calls whose CDR has arrived (ASR = answered / ended)."""

    x_number = models.CharField(max_length=64, blank=True, default="")
    ended = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "vendor_account", "x_number"], name="callbacks_hourx_key"
            ),
        ]
        indexes = [
            # The busiest X numbers' previous period: a few numbers over a month.
            models.Index(fields=["x_number", "hour"], name="callbacks_hourx_x"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.x_number or '-'}: {self.calls}"


class PruneMark(models.Model):
    """How far a retention job has walked a table by id (callbacks/retention.py):
    every row up to `last_id` is done, so a run starts there instead of rescanning
    months of already pruned rows."""

    name = models.CharField(max_length=32, unique=True)
    last_id = models.BigIntegerField(default=0)
    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} pruned up to id {self.last_id}"


class RollupState(models.Model):
    """The rollup refresh's bookkeeping (one row per rollup family).  Its row lock
    serializes refreshes, `watermark` is the updated_at from which the next run
    looks for changed records."""

    name = models.CharField(max_length=32, unique=True)
    watermark = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} refreshed at {self.refreshed_at}"
