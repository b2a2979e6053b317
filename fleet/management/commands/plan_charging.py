"""``python manage.py plan_charging BER-TH [--wait]``: plan a hub's charging for the coming night."""

from django.core.management.base import BaseCommand, CommandError

from fleet import services
from fleet.models import ChargingPlanStatus
from lastmile.core.errors import ApplicationError
from lastmile.hubs.models import Hub


class Command(BaseCommand):
    help = "Request a charging plan for a hub; with --wait, solve it here and print the result."

    def add_arguments(self, parser):
        parser.add_argument("hub", help="Hub code, e.g. BER-TH")
        parser.add_argument(
            "--wait", action="store_true", help="Solve in this process instead of in Celery"
        )

    def handle(self, *args, hub: str, wait: bool, **options):
        found = Hub.objects.filter(code=hub).first()
        if found is None:
            raise CommandError(f"No hub with code {hub!r}.")
        try:
            plan = services.charging_plan_request(hub=found, source="command", enqueue=not wait)
            if wait:
                plan = services.charging_plan_solve(plan_id=plan.pk)
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} {exc.errors or ''}".strip()) from None
        if not wait:
            self.stdout.write(f"Plan {plan.pk} requested for {plan.vehicle_count} vehicle(s).")
            return
        self.stdout.write(
            f"Plan {plan.pk}: {plan.status}, {plan.vehicle_count} vehicle(s), "
            f"{plan.energy_wh / 1000:.1f} kWh for {plan.cost_minor / 100:.2f} {plan.currency} "
            f"(naive {plan.naive_cost_minor / 100:.2f}), peak {plan.peak_w / 1000:.1f} kW "
            f"of {plan.power_cap_w / 1000:g} kW (naive {plan.naive_peak_w / 1000:.1f} kW)"
        )
        if plan.status in (ChargingPlanStatus.SHORTFALL, ChargingPlanStatus.FAILED):
            for row in plan.vehicles.filter(shortfall_wh__gt=0).select_related("vehicle"):
                self.stdout.write(
                    f"  {row.vehicle.code}: short by {row.shortfall_wh} Wh "
                    f"({row.get_shortfall_reason_display()})"
                )
            if plan.message:
                self.stdout.write(f"  {plan.message}")
