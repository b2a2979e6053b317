import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from lastmile.accounts.models import User
from lastmile.hubs.models import Hub, OpeningHours

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_creates_nothing_new(settings):
    settings.DEBUG = True

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    counts = (Hub.objects.count(), OpeningHours.objects.count(), User.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert counts == (Hub.objects.count(), OpeningHours.objects.count(), User.objects.count())
    assert counts[0] == 2


def test_demo_dispatcher_can_sign_in(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    user = authenticate(username="dispatcher", password="lastmile-demo")

    assert user is not None
    assert user.has_role("dispatcher")
    assert client.login(username="dispatcher", password="lastmile-demo")
    assert client.get("/admin/hubs/hub/").status_code == 200


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("seed_demo")

    assert not User.objects.exists()
