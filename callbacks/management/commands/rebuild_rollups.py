"""manage.py rebuild_rollups: recompute the call rollups over any range.

    manage.py rebuild_rollups --since 2026-01-01 --until 2026-01-31
    manage.py rebuild_rollups                    # every hour that holds a call record

Dates are in TIME_ZONE (a bare --until date reaches the end of that day); whole UTC
hours are recomputed, one day per transaction, and re-running it is harmless.
Hours whose call records the retention prunes (CALL_RECORD_RETENTION_DAYS) are
skipped, and the command says so: their rollups are the only figures left.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from callbacks import rollups
from core.filters import parse_moment


class Command(BaseCommand):
    help = "Recompute the call rollups (dashboard figures) from the call records."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="date or datetime (default: the first call)")
        parser.add_argument("--until", help="date or datetime (default: now)")
        parser.add_argument(
            "--step-hours", type=int, default=24, help="hours per transaction (default 24)"
        )

    def _moment(self, options, name: str, *, end: bool):
        if not options[name]:
            return None
        moment = parse_moment(options[name], end=end)
        if moment is None:
            raise CommandError(f"--{name} must be a date or a datetime")
        return moment

    def handle(self, *args, **options):
        if options["step_hours"] < 1:
            raise CommandError("--step-hours must be at least 1")
        since = self._moment(options, "since", end=False) or rollups.first_call_at()
        until = self._moment(options, "until", end=True) or timezone.now()
        if since is None:
            self.stdout.write("no call records: nothing to rebuild")
            return
        if until <= since:
            raise CommandError("--until must be after --since")
        kept_from, _ = rollups.kept_range(since, until)
        if kept_from > rollups.hour_floor(since):
            self.stdout.write(
                self.style.WARNING(
                    f"call records before {kept_from:%Y-%m-%d %H:%M} UTC are pruned "
                    "(CALL_RECORD_RETENTION_DAYS): their rollups are kept as they are, "
                    "not rebuilt"
                )
            )
        started = timezone.now()
        total = 0
        step = timedelta(hours=options["step_hours"])
        for start, end, rows in rollups.rollup_rebuild(since=since, until=until, step=step):
            total += rows
            self.stdout.write(f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC: {rows} rows")
        seconds = (timezone.now() - started).total_seconds()
        self.stdout.write(self.style.SUCCESS(f"rebuilt {total} rollup rows in {seconds:.1f} s"))
