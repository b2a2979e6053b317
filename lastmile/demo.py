"""Demo data for ``make demo``: one call that seeds every part of the product, idempotently.

Each domain owns its demo module (``lastmile/hubs/demo.py`` …); this orchestrates them in the
order their foreign keys need.
"""

from dataclasses import dataclass, field

from django.db import transaction

from fleet.demo import seed_fleet
from lastmile.accounts.models import User
from lastmile.accounts.roles import Role
from lastmile.accounts.services import staff_user_upsert
from lastmile.hubs.demo import seed_hubs
from lastmile.orders.demo import seed_orders
from lastmile.partners.demo import seed_partners
from workforce.demo import DEMO_COURIER_USERNAME, DEMO_PASSWORD, seed_workforce

# Demo-only credentials, printed by ``seed_demo``. The command refuses to run with DEBUG off,
# so they never exist on a production database.
DEMO_LOGINS = [
    ("dispatcher", "lastmile-demo", Role.DISPATCHER, "Dana", "Dispatcher"),
    ("hubmanager", "lastmile-demo", Role.HUB_MANAGER, "Hanno", "Hubmanager"),
    ("workforce", "lastmile-demo", Role.WORKFORCE_MANAGER, "Wiebke", "Workforce"),
]


@dataclass
class DemoSummary:
    hubs: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    new_orders: int = 0
    vehicles: int = 0
    couriers: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)


@transaction.atomic
def seed_demo() -> DemoSummary:
    summary = DemoSummary()
    hubs = seed_hubs()
    summary.hubs = [hub.code for hub in hubs]
    summary.partners = [partner.slug for partner in seed_partners()]
    summary.new_orders = seed_orders()
    # Vehicles, chargers, a tariff, recent positions and a first charging plan per hub.
    summary.vehicles = seed_fleet(hubs)
    for username, password, role, first, last in DEMO_LOGINS:
        staff_user_upsert(
            username=username,
            password=password,
            role=role,
            first_name=first,
            last_name=last,
            email=f"{username}@demo.lastmile.invalid",
        )
        summary.logins.append((username, password, role))
    # Couriers in every onboarding state; the demo courier signs in to the portal (/courier/).
    summary.couriers = seed_workforce(reviewer=User.objects.get(username="workforce"))
    summary.logins.append((DEMO_COURIER_USERNAME, DEMO_PASSWORD, "courier"))
    return summary
