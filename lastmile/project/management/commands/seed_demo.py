"""``python manage.py seed_demo``: load the demo data of every app (safe to run again)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Load demo hubs, partners, orders and logins. Idempotent; refuses to run with DEBUG off."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Printed URLs start with this"
        )

    def handle(self, *args, base_url: str, **options):
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates logins with known passwords; it only runs with DJANGO_DEBUG=1."
            )
        from lastmile.demo import seed_demo

        summary = seed_demo()
        base = base_url.rstrip("/")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Hubs: {', '.join(summary.hubs)}")
        self.stdout.write(f"  Partners: {', '.join(summary.partners)}")
        self.stdout.write(f"  New orders: {summary.new_orders} (today and tomorrow)")
        self.stdout.write(f"  Back-office: {base}/admin/")
        self.stdout.write(f"  API docs:    {base}/api/v1/docs/")
        self.stdout.write(f"  Health:      {base}/healthz")
        self.stdout.write(
            f"  Fleet:       {base}/admin/fleet/vehicle/ ({summary.vehicles} vehicles)"
        )
        self.stdout.write(f"  Couriers:    {base}/courier/ ({len(summary.couriers)} new)")
        for username, password, role in summary.logins:
            self.stdout.write(f"  Login ({role}): {username} / {password}")
