"""End-to-end planning time, database to database, on the configured database.

    python benchmarks/bench_dispatch.py [--sizes 500x20,2000x60] [--time-limit auto]

For each size it creates a bench hub with vans and cargo bikes and orders spread over Berlin
(as the demo does), runs the real ``plan_run`` (build from the database, solve, check, store)
and prints build/solve/store seconds, routed and unassigned orders and the checker's verdict,
then deletes what it created. Targets: <= 30 s for 500 orders / 20 vehicles and <= 120 s for
2,000 orders / 60 vehicles on this 2-core machine.
"""

import argparse
import datetime as dt
import json
import random
import time
import uuid
from collections import Counter

from _django import setup

# The solver's share of each target, leaving room for building the matrices and storing.
TIME_LIMITS_S = {500: 20.0, 2000: 75.0}


def _create_day(*, tag: str, orders: int, vehicles: int):
    from django.utils import timezone

    from fleet.demo import VEHICLE_TYPES
    from fleet.models import Vehicle, VehicleType
    from lastmile.hubs.services import hub_create
    from lastmile.orders.demo import _orders_for_day
    from lastmile.orders.services import orders_bulk_create
    from lastmile.partners.services import partner_create

    hub = hub_create(
        name=f"Bench hub {tag}",
        code=f"BENCH-{tag.upper()}",
        address="Ringbahnstraße 40, 12099 Berlin",
        latitude="52.480000",
        longitude="13.400000",
        time_zone="Europe/Berlin",
        opening_hours=[(d, dt.time(6), dt.time(21)) for d in range(7)],
    )
    partner = partner_create(name=f"Bench {tag}", slug=f"bench-{tag}", default_hub=hub)
    day = timezone.localdate() + dt.timedelta(days=2)
    rng = random.Random(orders)
    built = _orders_for_day(rng, partner, hub, day, orders, 1)
    orders_bulk_create(partner=partner, hub=hub, orders=built, source="bench")
    # The demo's e-van and e-cargo bike, under names of their own so cleaning up is exact.
    van_type = VehicleType.objects.create(**{**VEHICLE_TYPES[0], "name": f"Bench van {tag}"})
    bike_type = VehicleType.objects.create(**{**VEHICLE_TYPES[1], "name": f"Bench bike {tag}"})
    bikes = vehicles // 4
    Vehicle.objects.bulk_create(
        Vehicle(
            code=f"B{tag.upper()}-{n:03d}",
            vehicle_type=bike_type if n < bikes else van_type,
            home_hub=hub,
            skills=["age_check", "cold_chain"] if n % 3 == 0 else [],
        )
        for n in range(vehicles)
    )
    return hub, partner, day, [van_type.pk, bike_type.pk], VehicleType


def _clean(hub, partner, type_ids, vehicle_type_model) -> None:
    from fleet.models import Vehicle
    from lastmile.dispatch.models import Plan
    from lastmile.orders.models import Order

    Plan.objects.filter(hub=hub).delete()
    Order.objects.filter(partner=partner).delete()
    Vehicle.objects.filter(home_hub=hub).delete()
    vehicle_type_model.objects.filter(pk__in=type_ids).delete()
    partner.delete()
    hub.opening_hours.all().delete()
    hub.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500x20,2000x60", help="ORDERSxVEHICLES,…")
    parser.add_argument("--time-limit", type=float, default=None, help="solver seconds")
    args = parser.parse_args()
    vendor = setup()

    from django.conf import settings
    from django.core.serializers.json import DjangoJSONEncoder
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from lastmile.dispatch.models import Stop
    from lastmile.dispatch.selectors import board_data
    from lastmile.dispatch.services import plan_request, plan_run

    for size in args.sizes.split(","):
        orders, vehicles = (int(x) for x in size.split("x"))
        limit = args.time_limit or TIME_LIMITS_S.get(orders, 30.0)
        settings.DISPATCH_TIME_LIMIT_S = limit
        tag = uuid.uuid4().hex[:6]
        hub, partner, day, type_ids, vt_model = _create_day(
            tag=tag, orders=orders, vehicles=vehicles
        )
        try:
            plan = plan_request(hub=hub, service_date=day, actor=None, enqueue=False)
            started = time.perf_counter()
            plan = plan_run(plan_id=plan.pk)
            total = time.perf_counter() - started
            stats = plan.stats
            print(
                f"DISPATCH db={vendor} orders={orders} vehicles={vehicles} "
                f"status={plan.status} total_s={total:.1f} build_s={stats.get('build_s', 0):.2f} "
                f"solve_s={stats.get('solve_s', 0):.2f} store_s={stats.get('store_s', 0):.2f} "
                f"time_limit_s={limit:.0f} backend={plan.backend} routed={plan.routed_count} "
                f"unassigned={plan.unassigned_count} vehicles_used={plan.vehicles_used} "
                f"distance_km={(plan.distance_m or 0) / 1000:.0f} feasible={plan.feasible} "
                f"error={plan.error!r}",
                flush=True,
            )
            reasons = Counter(plan.unassigned.values_list("reason", flat=True))
            print(f"DISPATCH unassigned_by_reason={dict(reasons)}", flush=True)
            # The board's data for this day: a fixed number of queries whatever the stop count.
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                data = board_data(hub=hub, service_date=day)
                board_s = time.perf_counter() - started
            payload_kb = len(json.dumps(data, cls=DjangoJSONEncoder)) / 1024
            print(
                f"BOARD stops={Stop.objects.filter(route__plan=plan).count()} "
                f"queries={len(queries)} seconds={board_s:.2f} payload_kb={payload_kb:.0f}",
                flush=True,
            )
        finally:
            _clean(hub, partner, type_ids, vt_model)


if __name__ == "__main__":
    main()
