"""Plans, routes and stops are history: deleting a plan or a route with rows under it is refused.

Replacing an unpublished plan still works: ``plan_run`` deletes its stops, routes and
unassigned rows explicitly, children first (``test_services`` covers it).
"""

import pytest
from django.db.models import ProtectedError

from lastmile.dispatch.models import Plan, Route, Stop, UnassignedOrder
from tests.dispatch.factories import stored_plan

pytestmark = pytest.mark.django_db


def test_deleting_a_plan_with_routes_is_refused_and_nothing_is_lost(tomorrow):
    # given
    plan = stored_plan(day=tomorrow, routes=2, stops=6, unassigned=1)

    # when / then
    with pytest.raises(ProtectedError):
        Plan.objects.filter(pk=plan.pk).delete()

    assert Route.objects.filter(plan=plan).count() == 2
    assert Stop.objects.filter(route__plan=plan).count() == 6
    assert UnassignedOrder.objects.filter(plan=plan).count() == 1


def test_deleting_a_route_with_stops_is_refused(tomorrow):
    # given
    plan = stored_plan(day=tomorrow, routes=1, stops=3, unassigned=0)
    route = plan.routes.get()

    # when / then
    with pytest.raises(ProtectedError):
        Route.objects.filter(pk=route.pk).delete()
    assert Stop.objects.filter(route=route).count() == 3
