"""Writes of the callbacks app: its one public write API.

Each concern lives in its own module and is re-exported here, so pages, the
admin, the API, commands and tasks all import `callbacks.services`:

- inbox.py: receive, authenticate, store and replay vendor deliveries (the
  pipeline is described there); nonces.py: the signed nonces it claims;
  queue.py: the batch normalizer of what arrived, and its coalesced trigger;
- normalize.py: CallRecord/CallEvent upserts, in any order and more than once;
- recordings.py: plan, download, sweep and play back recordings (audio.py
  sniffs the bytes);
- text.py: text hygiene for what vendors send;
- exports.py: CSV exports of call records, streamed or written in the background;
- retention.py: old delivery bodies, deliveries and call records pruned in batches.

The hot path's SQL is in hotsql.py (why: its docstring).
"""

from __future__ import annotations

from callbacks.exports import export_expire, export_start, export_stream, export_write
from callbacks.inbox import (
    BODY_PRUNED,
    NOT_REPLAYABLE,
    AccountChanged,
    delivery_process,
    delivery_receive,
    delivery_refuse,
    delivery_replay,
    delivery_replay_many,
    is_queued,
    replay_summary,
)
from callbacks.nonces import callback_nonce_prune
from callbacks.normalize import Policy
from callbacks.queue import deliveries_normalize, deliveries_normalize_all
from callbacks.recordings import (
    DownloadResult,
    call_record_delete,
    recording_download,
    recording_enqueue,
    recording_playback_log,
    recording_sweep,
)
from callbacks.retention import retention_prune

__all__ = [
    "BODY_PRUNED",
    "NOT_REPLAYABLE",
    "AccountChanged",
    "DownloadResult",
    "Policy",
    "call_record_delete",
    "callback_nonce_prune",
    "deliveries_normalize",
    "deliveries_normalize_all",
    "delivery_process",
    "delivery_receive",
    "delivery_refuse",
    "delivery_replay",
    "delivery_replay_many",
    "export_expire",
    "export_start",
    "export_stream",
    "export_write",
    "is_queued",
    "recording_download",
    "recording_enqueue",
    "recording_playback_log",
    "recording_sweep",
    "replay_summary",
    "retention_prune",
]
