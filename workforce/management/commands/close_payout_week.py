"""``python manage.py close_payout_week [--week 2026-03-02]``: close a pay week (idempotent)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from lastmile.core.errors import ApplicationError
from workforce import services


class Command(BaseCommand):
    help = "Price the week's stops and close it into payout batches; closing twice adds nothing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--week",
            type=dt.date.fromisoformat,
            help="Any day of the week to close (default: the last week that ended)",
        )

    def handle(self, *args, week: dt.date | None, **options):
        monday = (
            week - dt.timedelta(days=week.weekday()) if week else services.last_completed_week()
        )
        _, week_end = services.week_bounds(monday)
        services.earnings_accrue_stops(until=week_end)
        try:
            result = services.payout_week_close(week_start=monday)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if result.already_closed:
            self.stdout.write(f"{result.week} was already closed; nothing new.")
            return
        total = sum(batch.total_minor for batch in result.created)
        self.stdout.write(
            f"{result.week} closed: {len(result.created)} batch(es), {total / 100:.2f} EUR."
        )
