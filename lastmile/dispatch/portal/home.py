"""The card dispatch puts at the top of an approved courier's home page: today's (and
tomorrow's) route with its progress and next stop, and the routes offered to them."""

from __future__ import annotations

from django.utils import timezone

from lastmile.dispatch.selectors import courier_routes_progress, offers_with_pay_for
from lastmile.dispatch.services import courier_active_refusal
from workforce.models import Courier
from workforce.panels import HomePanel


def today_panel(courier: Courier) -> HomePanel | None:
    """Nothing for a courier who may not drive (an applicant, an offboarded courier): their
    home is about their application."""
    if courier_active_refusal(courier) is not None:
        return None
    return HomePanel(
        template="dispatch/portal/_today.html",
        context={
            "date": timezone.localdate(),
            "routes": courier_routes_progress(courier=courier),
            "offers": offers_with_pay_for(courier=courier),
        },
    )
