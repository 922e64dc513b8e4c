"""Celery tasks of the callbacks app: thin wrappers around services (and recordings).

Beat entries wired in settings.CELERY_BEAT_SCHEDULE: recording_sweep
(every minute), callback_nonce_prune (every 10 minutes) and rollup_refresh
(every ROLLUP_REFRESH_SECONDS, default a minute).
"""

from celery import shared_task


@shared_task(ignore_result=True)
def recording_download(record_id: int) -> str:
    """Download one recording; re-sends itself with the backoff the service chose."""
    from callbacks import recordings

    result = recordings.recording_download(record_id=record_id)
    if result.retry_in is not None:
        recordings.recording_enqueue(record_id=record_id, countdown=result.retry_in)
    return result.status


@shared_task(ignore_result=True)
def recording_sweep() -> int:
    """Beat, every minute: re-send downloads whose message was lost (broker outage,
    killed worker).  Duplicates are harmless: downloads claim their row first."""
    from callbacks import recordings

    return len(recordings.recording_sweep())


@shared_task(ignore_result=True)
def callback_nonce_prune() -> int:
    """Beat: forget signed nonces whose window has passed (their Created is stale)."""
    from callbacks import services

    return services.callback_nonce_prune()


@shared_task(ignore_result=True)
def rollup_refresh() -> int:
    """Beat: recompute the recent hours of the call rollups and the older hours
    whose records changed (late CDRs); see callbacks/rollups.py."""
    from callbacks import rollups

    return rollups.rollup_refresh_recent().rows
