"""Celery tasks of the callbacks app: thin wrappers around services.

Beat entries to wire in settings.CELERY_BEAT_SCHEDULE:
    "callbacks-sweep-pending-recordings": {
        "task": "callbacks.tasks.sweep_pending_recordings",
        "schedule": 60.0,
    }
"""

from celery import shared_task


@shared_task(ignore_result=True)
def download_recording(record_id: int) -> str:
    """Download one recording; re-sends itself with the backoff the service chose."""
    from callbacks import services

    result = services.recording_download(record_id=record_id)
    if result.retry_in is not None:
        services.recording_enqueue(record_id=record_id, countdown=result.retry_in)
    return result.status


@shared_task(ignore_result=True)
def sweep_pending_recordings() -> int:
    """Beat, every minute: re-send downloads whose message was lost (broker outage,
    killed worker).  Duplicates are harmless: downloads claim their row first."""
    from callbacks import services

    return len(services.recording_sweep())
