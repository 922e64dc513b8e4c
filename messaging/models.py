"""Sends from the console: SMS and template SMS (Message + MessageRecipient), ccp
two-way calls (TwoWayCall) and huawei voice verification codes (VoiceCode), and each
vendor account's send limits (SendPolicy) with the database limiter's counters.

Every kind of send is a `Send` (abstract): one vendor account, a state that starts
`pending` and ends `sent` or `failed` (plus `partial` for a message some of whose
batches failed), the vendor's error code, original text, English gloss and advice,
the number of vendor attempts started, and an optional client Idempotency-Key.

Idempotency keys are unique PER USER (created_by, key), as for privacy bindings: a
key is the client's name for one request, and two API users cannot collide or probe
each other's keys. `request_fingerprint` (sha256 of the normalized request) tells a
retry of the same request from a reuse of the key for another one (409).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.crypto import EncryptedTextField


class SendState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    PARTIAL = "partial", "Partly sent"
    FAILED = "failed", "Failed"


class Send(models.Model):
    """What every send shares. Subclasses add their request fields and vendor ids."""

    State = SendState
    FINAL_STATES = (SendState.SENT, SendState.PARTIAL, SendState.FAILED)

    vendor_account = models.ForeignKey(
        "accounts.VendorAccount", on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=16, choices=SendState.choices, default=SendState.PENDING)
    error_code = models.CharField(max_length=32, blank=True, default="")
    error_text = models.TextField(blank=True, default="", help_text="The vendor's own text.")
    error_text_en = models.TextField(blank=True, default="", help_text="English gloss.")
    error_advice = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Vendor calls started.")
    # Set, committed, just before a vendor call and cleared when the vendor provably did
    # not act: a redelivered task that finds it set does not send again (a send has no
    # idempotency key at the vendor), it fails the row as "outcome unknown".
    call_started_at = models.DateTimeField(null=True, blank=True)

    idempotency_key = models.CharField(max_length=128, blank=True, default="")
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="%(app_label)s_%(class)s_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="%(app_label)s_%(class)s_state"),
        ]

    @property
    def is_pending(self) -> bool:
        return self.state == SendState.PENDING


class Message(Send):
    """One SMS request from the console: plain text or a vendor template, to 1..n numbers."""

    class Kind(models.TextChoices):
        PLAIN = "plain", "SMS"
        TEMPLATE = "template", "Template SMS"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    body = models.TextField(blank=True, default="", help_text="Plain SMS text.")
    msg_type = models.CharField(
        max_length=4, blank=True, default="0", help_text="ccp msgType (0: ordinary SMS)."
    )
    template_id = models.CharField(max_length=64, blank=True, default="")
    datas = models.JSONField(default=list, blank=True, help_text="Template parameters.")
    sub_account = models.ForeignKey(
        "accounts.SubAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recipient_count = models.PositiveIntegerField(default=0)

    class Meta(Send.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"


class MessageRecipient(models.Model):
    """One number of a Message, sent in batch `batch` (one vendor request per batch)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="recipients")
    number = models.CharField(max_length=24)
    batch = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    sms_message_sid = models.CharField(max_length=64, blank=True, default="")
    vendor_created_at = models.DateTimeField(null=True, blank=True, help_text="dateCreated.")
    # Set, committed, just before the batch's vendor call (see Send.call_started_at).
    call_started_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True, default="")
    error_text = models.TextField(blank=True, default="")
    error_text_en = models.TextField(blank=True, default="")
    error_advice = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["message", "batch", "id"]
        indexes = [
            models.Index(fields=["number"], name="messaging_recipient_number"),
            models.Index(fields=["sms_message_sid"], name="messaging_recipient_sid"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="messaging_recipient_once")
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.state})"


class TwoWayCall(Send):
    """A ccp two-way (callback) call: the platform rings `from_number`, then `to_number`.

    Signed with the sub-account's sid and token (guide §2.5.3). `options` holds the
    optional platform parameters sent verbatim (display numbers, customer serial
    number, prompt tone, max call time, userData ...). The call events and the
    Hangup CDR arrive at /callbacks/ and attach by `call_sid`.
    """

    sub_account = models.ForeignKey(
        "accounts.SubAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_number = models.CharField(max_length=24)
    to_number = models.CharField(max_length=24)
    options = models.JSONField(default=dict, blank=True)
    call_sid = models.CharField(max_length=128, blank=True, default="", db_index=True)
    vendor_created_at = models.DateTimeField(null=True, blank=True)
    # Its outcome, answer and duration are the call record's and events' that carry
    # `call_sid` (messaging.selectors.call_progress): read, never copied here.

    class Meta(Send.Meta):
        pass

    def __str__(self) -> str:
        return f"Two-way call #{self.pk} ({self.state})"


class VoiceCode(Send):
    """A huawei voice verification code call (callVerify, 表4).

    The code is its recipient's secret: kept encrypted only until the vendor call,
    then cleared (`code` = ""); pages and the API show `****`. The status pushes
    (callout, alerting, answer, disconnect) and the fee push attach by `session_id`.
    """

    callee_number = models.CharField(max_length=24)
    display_number = models.CharField(max_length=32, blank=True, default="")
    code = EncryptedTextField(blank=True, default="")
    code_length = models.PositiveSmallIntegerField(default=0)
    language_type = models.PositiveSmallIntegerField(default=2)
    pre_tone = models.CharField(max_length=128, blank=True, default="")
    pos_tone = models.CharField(max_length=128, blank=True, default="")
    times = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0-9; 0 loops.")
    user_data = models.CharField(max_length=256, blank=True, default="")
    session_id = models.CharField(max_length=256, blank=True, default="", db_index=True)
    # Its status pushes and fee CDR are the call events and record that carry
    # `session_id` (messaging.selectors.call_progress): read, never copied here.

    class Meta(Send.Meta):
        indexes = [
            *Send.Meta.indexes,
            models.Index(fields=["callee_number"], name="messaging_voicecode_callee"),
        ]

    def __str__(self) -> str:
        return f"Voice code #{self.pk} ({self.state})"


class SendPolicy(models.Model):
    """A vendor account's send limits; an account without a row uses the settings'
    defaults (MESSAGING_SENDS_PER_MINUTE/PER_DAY, MESSAGING_RECIPIENT_SENDS_PER_HOUR).
    Blank means the default; 0 means no limit. Read by messaging.limits."""

    vendor_account = models.OneToOneField(
        "accounts.VendorAccount", on_delete=models.CASCADE, related_name="send_policy"
    )
    per_minute = models.PositiveIntegerField(null=True, blank=True)
    per_day = models.PositiveIntegerField(null=True, blank=True)
    recipient_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Voice codes to one number per hour."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "send policies"

    def __str__(self) -> str:
        return f"Send policy of {self.vendor_account}"


class LimitWindow(models.Model):
    """The database limiter's counter: sends in one fixed window of one scope
    (e.g. "acct:7:min" and the window's start in epoch seconds)."""

    scope = models.CharField(max_length=120)
    window = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "window"], name="messaging_limit_window")
        ]

    def __str__(self) -> str:
        return f"{self.scope}@{self.window}: {self.count}"
