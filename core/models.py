"""Models that belong to no single app: the outbox of outbound work (core/outbox.py)."""

from django.db import models


class OutboxItem(models.Model):
    """One unit of outbound work (a bind, a release, a send, a download), written in the
    same transaction as the row it is for, so work the console accepted is in the
    database before any broker hears of it. Deleted in the transaction that records
    the vendor's result; core/outbox.py explains the lease."""

    task = models.CharField(max_length=100)  # the Celery task's name; it takes object_id
    object_id = models.BigIntegerField()
    # When the dispatcher next publishes it, unless a worker finishes it first.
    due_at = models.DateTimeField()
    # A worker holds it until then (or a retry's backoff keeps it until then).
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # claims taken, killed ones included
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "object_id"], name="core_outbox_task_object"),
        ]
        indexes = [models.Index(fields=["due_at"], name="core_outbox_due")]

    def __str__(self) -> str:
        return f"{self.task}({self.object_id})"
