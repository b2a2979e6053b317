"""Order imports confirmed concurrently, on PostgreSQL with real threads: orders written once."""

import threading
import time

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from lastmile.accounts.roles import Role
from lastmile.hubs.services import hub_archive
from lastmile.orders.models import Order, OrderEvent, OrderImport, Parcel
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory
from tests.orders.factories import PartnerFactory
from tests.orders.test_import import csv_bytes, good_row, preview
from tests.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROWS = 60


def _dispatchers(count: int) -> list[Client]:
    clients = []
    for _ in range(count):
        client = Client()
        client.force_login(StaffFactory(role=Role.DISPATCHER))
        clients.append(client)
    return clients


def _confirm(client: Client, order_import: OrderImport):
    url = reverse("admin:orders_order_import_preview", args=[order_import.pk])
    return client.post(url, {"confirm": "1"})


def _shown(answer) -> str:
    return " ".join(str(m) for m in get_messages(answer.wsgi_request))


def test_two_concurrent_confirmations_of_one_import_write_its_orders_once():
    # given: a previewed file of 60 orders, and two dispatchers on its preview page
    partner, hub = PartnerFactory(), HubFactory()
    order_import, _ = preview(partner, hub, csv_bytes([good_row(n) for n in range(ROWS)]))
    first, second = _dispatchers(2)

    # when: both press "Confirm" at the same moment
    answers = race(lambda: _confirm(first, order_import), lambda: _confirm(second, order_import))

    # then: both see the import's result, and every order, parcel and event exists once
    assert [getattr(a, "status_code", a) for a in answers] == [302, 302], answers
    assert all(f"{ROWS} order(s) imported" in _shown(a) for a in answers)
    assert Order.objects.filter(partner=partner).count() == ROWS
    assert Parcel.objects.filter(order__partner=partner).count() == ROWS
    assert OrderEvent.objects.filter(order__partner=partner, kind="created").count() == ROWS
    order_import.refresh_from_db()
    assert order_import.status == OrderImport.Status.CONFIRMED
    assert order_import.created_order_count == ROWS


def test_one_file_previewed_twice_and_both_confirmed_at_once_writes_its_orders_once():
    # given: the same file uploaded twice (two tabs), both previews open
    partner, hub = PartnerFactory(), HubFactory()
    content = csv_bytes([good_row(n) for n in range(ROWS)])
    imports = [preview(partner, hub, content)[0] for _ in range(2)]
    clients = _dispatchers(2)

    # when: both are confirmed at the same moment
    answers = race(
        *(lambda c=c, i=i: _confirm(c, i) for c, i in zip(clients, imports, strict=True))
    )

    # then: no error page; the orders exist once, and neither import is left half-done
    assert [getattr(a, "status_code", a) for a in answers] == [302, 302], answers
    assert Order.objects.filter(partner=partner).count() == ROWS
    assert OrderEvent.objects.filter(order__partner=partner, kind="created").count() == ROWS
    created = sorted(
        OrderImport.objects.filter(pk__in=[i.pk for i in imports]).values_list(
            "created_order_count", flat=True
        )
    )
    assert created == [0, ROWS], created


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def test_a_hub_archived_while_its_import_is_confirmed_gets_no_orders():
    # given: a previewed file, and the hub being archived in a transaction not yet committed
    partner, hub = PartnerFactory(), HubFactory()
    order_import, _ = preview(partner, hub, csv_bytes([good_row(n) for n in range(ROWS)]))
    (dispatcher,) = _dispatchers(1)
    archiving, confirming = threading.Event(), threading.Event()

    def archive() -> None:
        with transaction.atomic():
            hub_archive(hub=hub)
            archiving.set()
            # hold the archive open until the confirmation is waiting on the hub's row
            assert confirming.wait(timeout=30)
            deadline = time.monotonic() + 30
            while not _waiting_for_a_lock() and time.monotonic() < deadline:
                time.sleep(0.05)

    def confirm():
        assert archiving.wait(timeout=30)
        confirming.set()
        return _confirm(dispatcher, order_import)

    # when: the dispatcher confirms while the archive is under way
    _, answer = race(archive, confirm)

    # then: the confirmation waited for the archive, saw it and wrote nothing
    assert getattr(answer, "status_code", answer) == 302, answer
    assert "is archived; orders cannot be imported for it." in _shown(answer)
    assert not Order.objects.filter(partner=partner).exists()
    order_import.refresh_from_db()
    assert order_import.status == OrderImport.Status.PREVIEWED
