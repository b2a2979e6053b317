"""Workforce tasks: names, queues, the beat schedule, and the demo data."""

import io

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from lastmile import celery_app
from workforce.models import ApplicationStatus, Courier, CourierKind, PayoutBatch


def _login_request():
    # Sign-ins go through django-axes, which needs the request to count failures against.
    return RequestFactory().post("/admin/login/")


pytestmark = pytest.mark.django_db


def test_tasks_are_registered_and_mail_goes_to_the_notifications_queue():
    celery_app.loader.import_default_modules()

    for name in (
        "workforce.flag_expired_documents",
        "workforce.close_payout_week",
        "workforce.accrue_earnings",
        "notifications.courier_email",
    ):
        assert name in celery_app.tasks
    route = celery_app.amqp.router.route({}, "notifications.courier_email")
    assert route["queue"].name == "notifications"


def test_beat_flags_expired_documents_daily_and_closes_the_week_on_mondays():
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }

    daily = schedule["workforce.flag_expired_documents"]
    weekly = schedule["workforce.close_payout_week"]
    assert daily.hour == {6}
    assert daily.day_of_week == set(range(7))
    assert weekly.day_of_week == {1}
    assert weekly.hour == {3}


def test_demo_seeds_a_dozen_couriers_in_every_state_once(settings, client):
    settings.DEBUG = True
    out = io.StringIO()

    call_command("seed_demo", stdout=out)
    counts = Courier.objects.count(), PayoutBatch.objects.count()
    call_command("seed_demo", stdout=io.StringIO())

    assert (Courier.objects.count(), PayoutBatch.objects.count()) == counts
    assert counts[0] == 12
    assert {k for (k,) in Courier.objects.values_list("kind")} == set(CourierKind.values)
    states = set(Courier.objects.values_list("application__status", flat=True))
    assert states == set(ApplicationStatus.values)
    assert "Login (courier): courier / lastmile-demo" in out.getvalue()
    assert authenticate(_login_request(), username="courier", password="lastmile-demo") is not None
    assert client.login(request=_login_request(), username="courier", password="lastmile-demo")
    home = client.get("/courier/")
    assert home.status_code == 200
    assert "Approved" in home.content.decode()
    earnings = client.get("/courier/earnings/").content.decode()
    assert "Payouts" in earnings
    assert "No payouts yet." not in earnings


def test_close_payout_week_command_is_idempotent():
    first, second = io.StringIO(), io.StringIO()

    call_command("close_payout_week", "--week", "2026-03-04", stdout=first)
    call_command("close_payout_week", "--week", "2026-03-02", stdout=second)

    assert first.getvalue().strip() == "Week 2026-W10 closed: 0 batch(es), 0.00 EUR."
    assert "already closed" in second.getvalue()
    assert PayoutBatch.objects.count() == 0
