"""The sandbox's own state: simulated vendor accounts, what they were asked to do,
the calls they "placed", and every request received and callback sent.

These tables never share rows with the console's (accounts/, privacy/, callbacks/):
the sandbox plays the vendor, so it keeps the vendor's side of the story.
`ensure_sandbox_account` (services.py) mirrors a console VendorAccount into a
SandboxAccount with the same credentials.
"""

import secrets

from django.db import models

from accounts.models import vendor_choices
from core.crypto import EncryptedTextField


def new_public_id() -> str:
    # Recording URLs are built from this: unguessable, like a real vendor's link.
    return secrets.token_hex(16)


class SandboxAccount(models.Model):
    """A vendor account as the simulated vendor knows it.

    account_id/secret/app_id mean what they mean on accounts.VendorAccount (ccp
    accountSid/authToken/appId, igw devid/key/appid, huawei app_key/app_secret,
    cyj ACCOUNTSID/token/APPID).  The chaos_* fields make the sandbox misbehave
    on purpose (see sandbox/__init__.py).
    """

    # What the page's chaos form and the JSON API may change.
    SETTABLE_FIELDS = (
        "state",
        "auto_play",
        "max_bindings_per_x",
        "chaos_api_delay_ms",
        "chaos_api_fail_next",
        "chaos_api_timeout_next",
        "chaos_timeout_seconds",
        "chaos_delivery_delay_ms",
        "chaos_duplicate",
        "chaos_out_of_order",
        "chaos_recording_late_seconds",
        "ccp_success_code",
        "ccp_sub_account_sid_key",
        "ccp_app_state",
        "ccp_registered_numbers",
    )
    # Settings that mean something only for one vendor (the chaos form hides the rest).
    VENDOR_FIELDS = {
        "ccp_success_code": "ccp",
        "ccp_sub_account_sid_key": "ccp",
        "ccp_app_state": "ccp",
        "ccp_registered_numbers": "ccp",
    }

    class State(models.IntegerChoices):
        # The igw §3.1 / ccp AccountInfo numbering.
        TRIAL = 0, "Trial"
        ACTIVE = 1, "Active"
        SUSPENDED = 2, "Suspended"
        CLOSED = 3, "Closed"

    vendor = models.CharField(max_length=16, choices=vendor_choices)
    account_id = models.CharField(max_length=128)
    secret = EncryptedTextField()
    app_id = models.CharField(max_length=128, blank=True)
    friendly_name = models.CharField(max_length=100, blank=True)
    state = models.IntegerField(choices=State.choices, default=State.ACTIVE)
    balance = models.DecimalField(max_digits=12, decimal_places=3, default=1000)
    overdraft = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    callback_urls = models.JSONField(
        default=dict, blank=True, help_text="Callback kind -> URL the sandbox POSTs to."
    )
    numbers = models.JSONField(
        default=list,
        blank=True,
        help_text="X / virtual numbers this account owns. Empty: any X is accepted.",
    )
    max_bindings_per_x = models.PositiveIntegerField(default=100)
    platform_mac = models.CharField(
        max_length=64, default="EC-55-F9-C7-62-CE", help_text="ccp: MAC in Base64(MAC:AuthToken)."
    )
    auto_play = models.BooleanField(
        default=False,
        help_text="Play calls created by the API (ccp callback, huawei voice code) at once.",
    )
    # Chaos: API side (answers to the clients).
    chaos_api_delay_ms = models.PositiveIntegerField(default=0)
    chaos_api_fail_next = models.PositiveIntegerField(
        default=0, help_text="The next N signed requests answer HTTP 503."
    )
    chaos_api_timeout_next = models.PositiveIntegerField(
        default=0, help_text="The next N signed requests hang for chaos_timeout_seconds."
    )
    chaos_timeout_seconds = models.FloatField(default=12.0)
    # Chaos: callback side (defaults for every played call; a call may override).
    chaos_delivery_delay_ms = models.PositiveIntegerField(default=0)
    chaos_duplicate = models.BooleanField(default=False)
    chaos_out_of_order = models.BooleanField(default=False)
    chaos_recording_late_seconds = models.PositiveIntegerField(default=0)
    # ccp answer forms: the SDKs and the guide disagree, real platforms have sent both.
    ccp_success_code = models.CharField(
        max_length=6,
        choices=[("000000", '"000000" (the SDKs)'), ("0", '"0" (the PHP guide)')],
        default="000000",
        help_text="ccp: the statusCode of a successful answer.",
    )
    ccp_sub_account_sid_key = models.CharField(
        max_length=16,
        choices=[
            ("subAccountSid", "subAccountSid (the SDKs)"),
            ("accountSid", "accountSid (the PHP guide)"),
        ],
        default="subAccountSid",
        help_text="ccp: the key of the new sub-account's sid in the create answer.",
    )
    # ccp SMS application-state rules (guide §2.5.2 说明).
    ccp_app_state = models.IntegerField(
        choices=[
            (-1, "Deleted (-1): no SMS"),
            (0, "Disabled (0): no SMS"),
            (1, "Unpublished/offline (1): registered numbers only"),
            (2, "Online (2): any number"),
            (3, "In review (3): registered numbers only"),
            (4, "Rejected (4): registered numbers only"),
        ],
        default=2,
        help_text="ccp: the application's state, which decides who may receive its SMS.",
    )
    ccp_registered_numbers = models.JSONField(
        default=list,
        blank=True,
        help_text="ccp: the account's registered (test) numbers, the only SMS recipients "
        "of an application that is not online.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vendor", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "account_id"], name="sandbox_account_unique")
        ]

    def __str__(self) -> str:
        return f"{self.vendor}:{self.account_id}"

    @property
    def usable(self) -> bool:
        return self.state in (self.State.TRIAL, self.State.ACTIVE)

    def delivery_chaos(self) -> dict:
        return {
            "delay_ms": self.chaos_delivery_delay_ms,
            "duplicate": self.chaos_duplicate,
            "out_of_order": self.chaos_out_of_order,
            "recording_late_seconds": self.chaos_recording_late_seconds,
        }


class SandboxSubAccount(models.Model):
    """A ccp sub-account created through /SubAccounts; signs /SubAccounts/{sid}/… URLs."""

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="subs")
    sub_account_sid = models.CharField(max_length=64, unique=True)
    sub_token = EncryptedTextField()
    voip_account = models.CharField(max_length=64)
    voip_password = EncryptedTextField()
    friendly_name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, default="1")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.friendly_name


class SandboxBinding(models.Model):
    """A privacy binding: igw AXB (subid), igw XA (keyed by X), cyj bind (virtual number)."""

    class Kind(models.TextChoices):
        AXB = "axb", "igw AXB"
        XA = "xa", "igw XA transfer"
        CYJ = "cyj", "cyj privacy call"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        RELEASED = "released", "Released"

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="bindings")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    subid = models.CharField(max_length=64, db_index=True, blank=True)
    reqid = models.CharField(max_length=128, blank=True)
    x_number = models.CharField(max_length=32, db_index=True)
    a_number = models.CharField(max_length=32)
    b_number = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    record = models.BooleanField(default=False)
    user_data = models.CharField(max_length=512, blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="Other request parameters.")
    sandbox_base_url = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The igw reqid idempotency key: one binding per (account, reqid).
            models.UniqueConstraint(
                fields=["account", "reqid"],
                condition=~models.Q(reqid=""),
                name="sandbox_binding_reqid_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.x_number} {self.a_number}/{self.b_number or '-'}"


class SandboxMessage(models.Model):
    """A ccp SMS (free text or template) the sandbox pretended to send."""

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="messages")
    message_sid = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16)  # "sms" or "template"
    to = models.TextField()
    body = models.TextField(blank=True)
    template_id = models.CharField(max_length=32, blank=True)
    datas = models.JSONField(default=list, blank=True)
    sub_account_sid = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.message_sid


class SandboxCall(models.Model):
    """A simulated call: from a binding, a ccp two-way callback, or a huawei voice code."""

    class Kind(models.TextChoices):
        BINDING = "binding", "Call through a binding"
        CALLBACK = "callback", "ccp two-way callback"
        VOICE_CODE = "voice_code", "huawei voice verification code"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested (not played yet)"
        DELIVERING = "delivering", "Delivering callbacks"
        DONE = "done", "Callbacks sent"
        FAILED = "failed", "Some callback failed"

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="calls")
    binding = models.ForeignKey(
        SandboxBinding, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    call_id = models.CharField(max_length=256, unique=True)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    caller = models.CharField(max_length=32, blank=True)
    callee = models.CharField(max_length=32, blank=True)
    x_number = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    duration = models.PositiveIntegerField(default=0)
    begin_at = models.DateTimeField(null=True, blank=True)
    ring_at = models.DateTimeField(null=True, blank=True)
    answer_at = models.DateTimeField(null=True, blank=True)
    release_at = models.DateTimeField(null=True, blank=True)
    release_side = models.CharField(max_length=16, blank=True)
    user_data = models.CharField(max_length=512, blank=True)
    recorded = models.BooleanField(default=False)
    recording_available_at = models.DateTimeField(null=True, blank=True)
    chaos = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="Request parameters.")
    sandbox_base_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    played_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.call_id


class SandboxRequest(models.Model):
    """One request the sandbox received.  Secrets are left out: the query string
    without `sig`, headers without the Authorization / X-AKSK values."""

    vendor = models.CharField(max_length=16, blank=True, db_index=True)
    account = models.ForeignKey(
        SandboxAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    query = models.CharField(max_length=1000, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    verdict = models.CharField(max_length=32, db_index=True)
    vendor_code = models.CharField(max_length=32, blank=True)
    http_status = models.PositiveSmallIntegerField()
    remote_addr = models.CharField(max_length=64, blank=True)
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.http_status} {self.verdict}"


class SandboxDelivery(models.Model):
    """One attempt at POSTing one callback."""

    call = models.ForeignKey(SandboxCall, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=16, help_text="Callback kind (the webhook URL's).")
    event = models.CharField(max_length=32, help_text="What it announces (callout, cdr, …).")
    sequence = models.PositiveSmallIntegerField(help_text="Order in which it was sent.")
    attempt = models.PositiveSmallIntegerField(default=1)
    url = models.CharField(max_length=500)
    content_type = models.CharField(max_length=100)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duplicate = models.BooleanField(default=False)
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "sandbox deliveries"

    def __str__(self) -> str:
        return f"{self.event} -> {self.url} ({self.http_status or self.error[:20]})"

    @property
    def ok(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300
