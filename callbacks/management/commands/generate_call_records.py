"""`manage.py generate_call_records --count N`: synthetic call records for benchmarks
and demos (callbacks.generate says what they look like and how they are loaded)."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from callbacks import generate

# The dashboards' rollups are rebuilt by this command once it exists.


class Command(BaseCommand):
    help = "Generate realistic synthetic call records (COPY on PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="Call records to add.")
        parser.add_argument("--days", type=int, default=30, help="Period ending now (days).")
        parser.add_argument(
            "--accounts",
            type=int,
            default=4,
            help="Vendor accounts to spread calls over "
            "(existing first, then generated disabled ones).",
        )
        parser.add_argument(
            "--events-share", type=float, default=0.2, help="Share of calls with status events."
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed (repeatable).")

    def handle(self, *args, count, days, accounts, events_share, seed, **options):
        if not 1 <= count <= 100_000_000:
            raise CommandError("--count must be between 1 and 100,000,000.")
        if not 1 <= days <= 3650 or not 1 <= accounts <= 100:
            raise CommandError("--days must be 1-3650 and --accounts 1-100.")
        if not 0 <= events_share <= 1:
            raise CommandError("--events-share must be between 0 and 1.")
        started = time.monotonic()

        def progress(message: str) -> None:
            self.stdout.write(f"[{time.monotonic() - started:7.1f}s] {message}")
            self.stdout.flush()

        totals = generate.generate(
            generate.Options(
                count=count,
                days=days,
                accounts=accounts,
                events_share=events_share,
                seed=seed,
                progress=progress,
            )
        )
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {totals['records']:,} call records and {totals['events']:,} events "
                f"in {elapsed:.1f}s ({totals['records'] / max(elapsed, 0.001):,.0f} records/s)."
            )
        )
        # The dashboards read rollups only: build them for what was just loaded.
        progress("rebuilding the rollups")
        call_command("rebuild_rollups", stdout=self.stdout)
