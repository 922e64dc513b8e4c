"""`manage.py sandbox_call`: play a simulated call and deliver its callbacks now.

  manage.py sandbox_call --binding <pk | igw subid | X number> --outcome answered --duration 30
  manage.py sandbox_call --call <pk | vendor call id> --outcome busy
  options: --direction a_to_b|b_to_a, --caller (XA), --record/--no-record,
           --delay-ms, --duplicate, --out-of-order, --late-recording SECONDS,
           --base-url http://127.0.0.1:8001/sandbox (where recordings are served)

Deliveries run synchronously (the command waits) and are printed.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from sandbox import selectors, services
from sandbox.models import SandboxBinding, SandboxCall


class Command(BaseCommand):
    help = "Place a simulated call on a sandbox binding (or requested call) and send its callbacks."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--binding", help="pk, igw subid, or X number of an active binding")
        target.add_argument("--call", help="pk or vendor call id of a requested API call")
        parser.add_argument("--outcome", default="answered")
        parser.add_argument("--duration", type=int, default=30)
        parser.add_argument("--direction", default="a_to_b", choices=services.DIRECTIONS)
        parser.add_argument("--caller", default="")
        parser.add_argument("--record", action="store_true", default=None)
        parser.add_argument("--no-record", dest="record", action="store_false")
        parser.add_argument("--delay-ms", type=int)
        parser.add_argument("--duplicate", action="store_true", default=None)
        parser.add_argument("--out-of-order", action="store_true", default=None)
        parser.add_argument("--late-recording", type=int)
        parser.add_argument("--base-url")

    def handle(self, *args, **opts):
        target = {}
        if opts["binding"]:
            target["binding"] = self._binding(opts["binding"])
        else:
            target["call"] = self._call(opts["call"])
        try:
            call = services.play_call(
                **target,
                outcome=opts["outcome"],
                duration=opts["duration"],
                direction=opts["direction"],
                caller=opts["caller"],
                record=opts["record"],
                chaos={
                    "delay_ms": opts["delay_ms"],
                    "duplicate": opts["duplicate"],
                    "out_of_order": opts["out_of_order"],
                    "recording_late_seconds": opts["late_recording"],
                },
                sync=True,
                base_url=opts["base_url"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        call.refresh_from_db()
        self.stdout.write(f"call {call.call_id}: {call.outcome} {call.duration}s -> {call.status}")
        for d in call.deliveries.order_by("sequence", "attempt"):
            result = d.http_status or d.error
            dup = " (duplicate)" if d.duplicate else ""
            self.stdout.write(
                f"  #{d.sequence}{dup} {d.event} attempt {d.attempt} {d.url} -> {result}"
            )
        if call.status != SandboxCall.Status.DONE:
            raise CommandError("some callbacks were not accepted")

    def _binding(self, ref: str) -> SandboxBinding:
        qs = selectors.active_bindings().select_related("account")
        match = Q(subid=ref) | Q(x_number=services.national(ref))
        if ref.isdigit() and len(ref) < 10:
            match |= Q(pk=int(ref))
        found = list(qs.filter(match)[:2])
        if len(found) != 1:
            raise CommandError(f"{len(found) or 'no'} active bindings match {ref!r}")
        return found[0]

    def _call(self, ref: str) -> SandboxCall:
        match = Q(call_id=ref)
        if ref.isdigit() and len(ref) < 10:
            match |= Q(pk=int(ref))
        call = SandboxCall.objects.select_related("account").filter(match).first()
        if call is None:
            raise CommandError(f"no call {ref!r}")
        return call
