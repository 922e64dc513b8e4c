"""Celery tasks of the callbacks app: thin wrappers around services (and recordings).

Beat entries wired in settings.CELERY_BEAT_SCHEDULE: deliveries_normalize (the
sweeper, every few seconds), recording_sweep (every minute), callback_nonce_prune
(every 10 minutes), call_record_export_expire (hourly), rollup_refresh (every
ROLLUP_REFRESH_SECONDS, default a minute) and retention_prune (every
RETENTION_PRUNE_SECONDS, default 10 minutes).
"""

from celery import shared_task


@shared_task(ignore_result=True)
def deliveries_normalize() -> int:
    """Drain the inbox's queue in batches (rung after arrivals; beat sweeps)."""
    from callbacks import services

    return services.deliveries_normalize_all()


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
def call_record_export_write(export_id: int) -> str:
    """Write one background CSV export into storage, with progress on its audit row."""
    from callbacks import services

    return services.export_write(export_id=export_id).status


@shared_task(ignore_result=True)
def call_record_export_expire() -> int:
    """Beat, hourly: delete expired export files; fail exports whose process died."""
    from callbacks import services

    return services.export_expire()


@shared_task(ignore_result=True)
def rollup_refresh() -> int:
    """Beat: recompute the recent hours of the call rollups and the older hours
    whose records changed (late CDRs); see callbacks/rollups.py."""
    from callbacks import rollups

    return rollups.rollup_refresh_recent().rows


@shared_task(ignore_result=True)
def retention_prune() -> str:
    """Beat: empty old delivery bodies, delete old deliveries and (if configured)
    old call records, in short batches; see callbacks/retention.py."""
    from callbacks import services

    return str(services.retention_prune())
