"""Arranged days for the dispatch tests: a small hub whose plan needs several routes, and a
large stored plan written row by row (for query counts, without running the solver)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from fleet.models import Vehicle
from lastmile.dispatch.models import Plan, PlanStatus, Route, Stop, StopKind, UnassignedOrder
from lastmile.hubs.models import Hub
from lastmile.orders.models import Order
from tests.fleet.factories import VehicleFactory, VehicleStateFactory, VehicleTypeFactory
from tests.hubs.factories import HubFactory, OpeningHoursFactory
from tests.orders.factories import OrderFactory, PartnerFactory


def at(hub: Hub, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=hub.zone)


@dataclass
class BoardDay:
    hub: Hub
    vans: list[Vehicle]
    orders: list[Order]


def multi_route_day(
    *, day: dt.date, vans: int = 2, orders: int = 12, van_parcels: int = 8, code: str | None = None
) -> BoardDay:
    """A hub open 07:00-20:00 every day, ``vans`` small vans (``van_parcels`` parcels each,
    so the plan needs several routes), each with a last position, and ``orders`` one-parcel
    orders on ``day`` with wide windows."""
    hub = HubFactory(
        latitude="52.500000", longitude="13.420000", **({"code": code} if code else {})
    )
    for weekday in range(7):
        OpeningHoursFactory(hub=hub, weekday=weekday, opens_at=dt.time(7), closes_at=dt.time(20))
    fleet = []
    for n in range(vans):
        van = VehicleFactory(
            home_hub=hub,
            vehicle_type=VehicleTypeFactory(
                name=f"Small van {hub.code} {n}", capacity_parcels=van_parcels
            ),
        )
        VehicleStateFactory(vehicle=van)
        fleet.append(van)
    rows = [
        OrderFactory(
            hub=hub,
            latitude=Decimal("52.480000") + Decimal(n % 9) / 250,
            longitude=Decimal("13.380000") + Decimal(n // 9 % 9) / 150 + Decimal(n % 5) / 1000,
            window_start=at(hub, day, 8),
            window_end=at(hub, day, 18),
            parcels=1,
        )
        for n in range(orders)
    ]
    return BoardDay(hub=hub, vans=fleet, orders=rows)


def stored_plan(*, day: dt.date, routes: int, stops: int, unassigned: int) -> Plan:
    """A ready plan of ``routes`` routes sharing ``stops`` delivery stops, written directly."""
    hub = HubFactory()
    partner = PartnerFactory()
    orders = Order.objects.bulk_create(
        OrderFactory.build(
            hub=hub, partner=partner, window_start=at(hub, day, 9), window_end=at(hub, day, 17)
        )
        for _ in range(stops + unassigned)
    )
    now = timezone.now()
    plan = Plan.objects.create(
        hub=hub,
        service_date=day,
        status=PlanStatus.READY,
        ready_at=now,
        progress_pct=100,
        distance_m=1000 * stops,
        routed_count=stops,
        unassigned_count=unassigned,
    )
    vans = []
    for _n in range(routes):
        van = VehicleFactory(home_hub=hub)
        VehicleStateFactory(vehicle=van)
        vans.append(van)
    start = at(hub, day, 8)
    rows = Route.objects.bulk_create(
        Route(
            plan=plan,
            vehicle=van,
            colour_index=n,
            planned_start=start,
            planned_end=start + dt.timedelta(hours=8),
        )
        for n, van in enumerate(vans)
    )
    Stop.objects.bulk_create(
        (
            Stop(
                route=rows[n % routes],
                sequence=n // routes + 1,
                kind=StopKind.DELIVERY,
                order=order,
                latitude=order.latitude,
                longitude=order.longitude,
                planned_arrival=start + dt.timedelta(seconds=30 * n),
                planned_start=start + dt.timedelta(seconds=30 * n),
                planned_departure=start + dt.timedelta(seconds=30 * n + 180),
                window_start=order.window_start,
                window_end=order.window_end,
            )
            for n, order in enumerate(orders[:stops])
        ),
        batch_size=1000,
    )
    UnassignedOrder.objects.bulk_create(
        UnassignedOrder(
            plan=plan,
            order=order,
            reason=UnassignedOrder.Reason.WINDOW if n % 2 else UnassignedOrder.Reason.CAPACITY,
            detail="Cannot be reached in its window.",
        )
        for n, order in enumerate(orders[stops:])
    )
    return plan
