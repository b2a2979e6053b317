"""Reads of the order domain."""

import datetime as dt

from django.db.models import Count, Prefetch, QuerySet, Sum

from lastmile.core.errors import NotFound
from lastmile.hubs.models import Hub
from lastmile.orders.models import PLANNABLE_STATUSES, Order, OrderEvent, Parcel
from lastmile.partners.models import Partner


def order_list(*, hub: Hub | None = None, service_date: dt.date | None = None) -> QuerySet[Order]:
    """Orders with partner and hub joined and parcel totals annotated (one query per page)."""
    orders = Order.objects.select_related("partner", "hub").annotate(
        parcel_count=Count("parcels"), weight_g_total=Sum("parcels__weight_g")
    )
    if hub is not None:
        orders = orders.filter(hub=hub)
    if service_date is not None:
        orders = orders.filter(service_date=service_date)
    return orders


def order_get_for_partner(*, partner: Partner, order_id: int) -> Order:
    """An order addressed by a partner: another partner's order is "not found", never a leak."""
    try:
        return Order.objects.select_related("hub").get(partner=partner, pk=order_id)
    except Order.DoesNotExist:
        raise NotFound("No such order.") from None


def orders_to_plan(*, hub: Hub, service_date: dt.date) -> QuerySet[Order]:
    """The hub's orders the planner may put on routes that day, with their parcels."""
    return (
        Order.objects.filter(hub=hub, service_date=service_date, status__in=PLANNABLE_STATUSES)
        .prefetch_related(Prefetch("parcels", queryset=Parcel.objects.order_by("pk")))
        .order_by("pk")
    )


def order_timeline(*, order: Order) -> QuerySet[OrderEvent]:
    return order.events.select_related("actor").order_by("occurred_at", "pk")
