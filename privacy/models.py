"""Privacy-number bindings and their state history.

A binding pairs real numbers (A, B) with an X number of our pool at one vendor
account. Its life is a small state machine (privacy.transitions has the diagram
and the allowed moves), every step recorded in a BindingTransition written in
the same transaction as the state change. What differs between kinds lives in
their specs (privacy.kinds; `Binding.spec`).

`releasing` exists because an igw release is itself a vendor call made by a
worker: until the vendor confirms, the X still carries the pairing, so the row
must keep holding its place in the uniqueness constraints below.

Uniqueness, enforced by the database with partial unique indexes over the
"live" states (pending, active, releasing), because vendors refuse a second one
and a check in Python alone races:

- (x_number, a_number): an A appears at most once on an X;
- (x_number, b_number) when B is set: a B appears at most once on an X;
- x_number alone for XA: an XA transfer forwards every call to X, and igw
  releases it by X alone, so an X carries at most one XA.

Cross-role pairings (A of one binding being B of another on the same X) and
mixing XA with AXB on one X cannot be written as a partial unique index;
privacy.allocation checks them while holding the X's row lock (SELECT ... FOR
UPDATE), so they are serialized per X all the same. So is the cyj rule that a released
binding keeps pairing A and B on its X until its end time (the vendor has no
release API): an index condition cannot name the current time.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from privacy import kinds


def kind_choices() -> list[tuple[str, str]]:
    """Binding.kind's choices: the kinds the registered vendors declare."""
    return kinds.choices()


def new_reqid() -> str:
    """igw's idempotency key: generated once per binding and reused by every retry."""
    return uuid.uuid4().hex


class Binding(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        RELEASING = "releasing", "Releasing"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"

    LIVE_STATES = (State.PENDING, State.ACTIVE, State.RELEASING)
    FINAL_STATES = (State.RELEASED, State.EXPIRED, State.FAILED)

    # The kinds the registered vendors declare (privacy.kinds): a callable, so a
    # vendor plug-in's kind needs no migration.
    kind = models.CharField(max_length=8, choices=kind_choices)
    vendor_account = models.ForeignKey(
        "accounts.VendorAccount", on_delete=models.PROTECT, related_name="bindings"
    )
    # Null only for a cyj binding before the vendor has told us its virtual number,
    # or when the vendor picked a number that is not in our pool.
    x_number = models.ForeignKey(
        "accounts.PrivacyNumber",
        on_delete=models.PROTECT,
        related_name="bindings",
        null=True,
        blank=True,
    )
    a_number = models.CharField(max_length=24)
    b_number = models.CharField(max_length=24, blank=True, default="")
    area_code = models.CharField(
        max_length=8, blank=True, default="", help_text="Requested area code of X."
    )
    ttl = models.PositiveIntegerField(help_text="Seconds; 0 means no expiry (igw XA only).")
    expires_at = models.DateTimeField(null=True, blank=True)
    record = models.BooleanField(default=False)
    display = models.CharField(
        max_length=8, blank=True, default="", help_text="igw display mode, e.g. '0,0'."
    )
    direct = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="cyj Direct: 0 both ways, 1 A->B only, 2 B->A only."
    )
    anucode = models.CharField(max_length=64, blank=True, default="")
    ansanu = models.CharField(max_length=64, blank=True, default="")
    user_data = models.CharField(max_length=256, blank=True, default="")

    vendor_binding_id = models.CharField(
        max_length=64, blank=True, default="", help_text="igw subid, cyj virtual number."
    )
    reqid = models.CharField(max_length=64, unique=True, default=new_reqid, editable=False)
    client_idempotency_key = models.CharField(max_length=128, blank=True, default="")

    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    failure_code = models.CharField(max_length=32, blank=True, default="")
    failure_text = models.TextField(blank=True, default="")
    failure_text_en = models.TextField(blank=True, default="")
    failure_advice = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Vendor bind attempts.")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="privacy_bind_state_exp"),
            models.Index(fields=["state", "updated_at"], name="privacy_bind_state_upd"),
            models.Index(fields=["x_number", "state"], name="privacy_bind_x_state"),
            models.Index(fields=["a_number"], name="privacy_bind_a"),
            models.Index(fields=["b_number"], name="privacy_bind_b"),
            # Callbacks find a call's binding by the vendor's id for it, on every CDR.
            models.Index(
                fields=["vendor_account", "vendor_binding_id", "-created_at"],
                name="privacy_bind_vendor_id",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["x_number", "a_number"],
                condition=Q(state__in=["pending", "active", "releasing"]),
                name="privacy_binding_live_x_a",
                violation_error_message="A already has a live binding on this X number.",
            ),
            models.UniqueConstraint(
                fields=["x_number", "b_number"],
                condition=Q(state__in=["pending", "active", "releasing"]) & ~Q(b_number=""),
                name="privacy_binding_live_x_b",
                violation_error_message="B already has a live binding on this X number.",
            ),
            models.UniqueConstraint(
                fields=["x_number"],
                condition=Q(state__in=["pending", "active", "releasing"], kind="xa"),
                name="privacy_binding_live_xa",
                violation_error_message="This X number already carries an XA transfer.",
            ),
            models.UniqueConstraint(
                fields=["created_by", "client_idempotency_key"],
                condition=~Q(client_idempotency_key=""),
                name="privacy_binding_idempotency_key",
            ),
            models.CheckConstraint(
                condition=~Q(a_number=models.F("b_number")),
                name="privacy_binding_a_ne_b",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def spec(self):
        """The kind's spec (privacy.kinds.BindingKind): what this kind takes and does."""
        return kinds.KINDS[self.kind]

    @property
    def x_number_value(self) -> str:
        """The X number callers dial: our pool's, or, for a kind whose vendor may pick
        it (cyj), the one the vendor chose (its vendor_binding_id), maybe outside the pool."""
        if self.x_number is not None:
            return self.x_number.number
        return self.vendor_binding_id if self.spec.vendor_picks_x else ""


class BindingTransition(models.Model):
    """One state change of a binding; written in the same transaction as the change."""

    binding = models.ForeignKey(Binding, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=16, blank=True, default="")
    to_state = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # "worker" or "beat" when no user acted; the username otherwise (kept if the user goes).
    actor_label = models.CharField(max_length=150)
    reason = models.TextField(blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or '∅'} → {self.to_state} by {self.actor_label}"


class XLoad(models.Model):
    """Live bindings per X number: the allocator's ordering key, kept in step by the services.

    Counting live bindings per X at allocation time costs O(bindings) (hundreds of
    milliseconds at 100,000 bindings); this row lets the allocator walk an index in
    load order and stop at the first usable X. It is a hint: every choice is checked
    again against the real rows under the X's lock, and `xload_sync` (beat, and
    whenever the pool looks exhausted) rebuilds it from the bindings.
    """

    # No database FK constraints: checking one takes FOR KEY SHARE on the pool row,
    # which waits on the allocator's FOR UPDATE of that row and can deadlock with it.
    # Django still cascades deletes; a stray row is harmless (xload_sync ignores it).
    x_number = models.OneToOneField(
        "accounts.PrivacyNumber",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="privacy_load",
        db_constraint=False,
    )
    vendor_account = models.ForeignKey(
        "accounts.VendorAccount", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    live = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["vendor_account", "live", "x_number"], name="privacy_xload_order")
        ]

    def __str__(self) -> str:
        return f"X {self.x_number_id}: {self.live} live"
