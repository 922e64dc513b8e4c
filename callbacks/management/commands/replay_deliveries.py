"""manage.py replay_deliveries: process rejected or failed deliveries again.

    manage.py replay_deliveries --outcome failed_processing
    manage.py replay_deliveries --id 12 --id 13 --skip-auth
    manage.py replay_deliveries --account 3 --since 2026-01-01 --dry-run

Only replayable deliveries (received, rejected_*, failed_processing) are touched,
oldest first.  Accepted data is never duplicated: a replay of something already
stored ends as "duplicate".
"""

from django.core.management.base import BaseCommand, CommandError

from callbacks import selectors, services
from callbacks.models import Delivery
from core.filters import parse_moment


class Command(BaseCommand):
    help = "Replay rejected or failed vendor callback deliveries."

    def add_arguments(self, parser):
        parser.add_argument("--id", type=int, action="append", dest="ids", default=[])
        parser.add_argument(
            "--outcome",
            action="append",
            dest="outcomes",
            default=[],
            choices=[str(o) for o in Delivery.REPLAYABLE],
        )
        parser.add_argument("--account", type=int, help="vendor account id")
        parser.add_argument("--since", help="date or datetime (received at or after)")
        parser.add_argument("--limit", type=int, default=1000)
        parser.add_argument(
            "--skip-auth",
            action="store_true",
            help="trust the deliveries: do not re-check authentication",
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):
        since = None
        if options["since"]:
            since = parse_moment(options["since"], end=False)
            if since is None:
                raise CommandError("--since must be a date or a datetime")
        if not (options["ids"] or options["outcomes"] or options["account"] or since):
            raise CommandError("choose deliveries: --id, --outcome, --account or --since")
        deliveries = selectors.delivery_for_replay(
            ids=options["ids"],
            outcomes=options["outcomes"],
            account_id=options["account"],
            since=since,
        ).select_related("vendor_account")[: options["limit"]]
        if options["dry_run"]:
            for delivery in deliveries:
                pruned = ", body pruned: cannot" if delivery.body_pruned_at else ""
                self.stdout.write(f"would replay {delivery.pk} ({delivery.outcome}{pruned})")
            return
        counts = services.delivery_replay_many(
            deliveries=deliveries, skip_auth=options["skip_auth"], on_each=self._print
        )
        self.stdout.write(self.style.SUCCESS(f"replayed: {services.replay_summary(counts)}"))

    def _print(self, delivery: Delivery) -> None:
        self.stdout.write(f"{delivery.pk}: {delivery.outcome} {delivery.reason}".rstrip())
