import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from lastmile.accounts.models import User
from lastmile.hubs.models import Hub, OpeningHours
from lastmile.orders.models import Order, OrderEvent, Parcel


def _login_request():
    # Sign-ins go through django-axes, which needs the request to count failures against.
    return RequestFactory().post("/admin/login/")


pytestmark = pytest.mark.django_db


def test_seed_demo_twice_creates_nothing_new(settings):
    settings.DEBUG = True

    def counts():
        return [m.objects.count() for m in (Hub, OpeningHours, User, Order, Parcel, OrderEvent)]

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = counts()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert counts() == first
    assert first[0] == 2
    assert first[3] == 600


def test_demo_orders_cover_today_and_tomorrow_in_berlin(settings):
    settings.DEBUG = True

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    days = sorted(set(Order.objects.values_list("service_date", flat=True)))
    assert len(days) == 2
    assert (days[1] - days[0]).days == 1
    assert (
        Order.objects.filter(
            latitude__range=(52.40, 52.62), longitude__range=(13.20, 13.60)
        ).count()
        == 600
    )
    assert Order.objects.values("hub").distinct().count() == 2


def test_demo_dispatcher_can_sign_in(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    user = authenticate(_login_request(), username="dispatcher", password="lastmile-demo")

    assert user is not None
    assert user.has_role("dispatcher")
    assert client.login(request=_login_request(), username="dispatcher", password="lastmile-demo")
    assert client.get("/admin/hubs/hub/").status_code == 200


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("seed_demo")

    assert not User.objects.exists()
