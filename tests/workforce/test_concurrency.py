"""Payouts under concurrency, on PostgreSQL with real threads: exactly one effect."""

import datetime as dt
import threading
import zoneinfo

import pytest
from django.db import connection
from django.utils import timezone

from lastmile.orders import services as order_services
from lastmile.orders.models import OrderStatus
from tests.orders.factories import OrderFactory
from tests.races import race
from tests.workforce.factories import PayRuleFactory, active_courier, entry
from workforce import services
from workforce.models import EarningEntry, PayoutBatch, PayoutWeek
from workforce.tasks import close_payout_week_task

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MONDAY = dt.date(2026, 3, 2)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_two_concurrent_closings_of_a_week_make_one_batch_per_courier_with_the_right_total():
    # given: two couriers with earnings in the week
    ada, ben = active_courier(n=1), active_courier(n=2)
    for n in range(20):
        entry(
            ada,
            amount_minor=100 + n,
            earned_at=dt.datetime(2026, 3, 3, 9, tzinfo=BERLIN) + dt.timedelta(minutes=n),
            source_id=n,
        )
    entry(
        ben,
        amount_minor=5000,
        earned_at=dt.datetime(2026, 3, 5, 9, tzinfo=BERLIN),
        source_id=99,
    )

    # when: the weekly task runs twice at once (a retried message, two beat instances)
    results = race(
        lambda: close_payout_week_task.apply(args=(MONDAY.isoformat(),)).get(),
        lambda: close_payout_week_task.apply(args=(MONDAY.isoformat(),)).get(),
    )

    # then: one run created both batches, the other nothing; totals match the ledger
    assert sorted(results) == [0, 2], results
    assert PayoutWeek.objects.count() == 1
    totals = dict(PayoutBatch.objects.values_list("courier_id", "total_minor"))
    assert totals == {ada.pk: sum(100 + n for n in range(20)), ben.pk: 5000}
    assert not EarningEntry.objects.filter(batch__isnull=True).exists()
    for batch in PayoutBatch.objects.all():
        assert services.payouts.payout_batch_total_check(batch)


def test_two_concurrent_accruals_price_each_stop_once():
    # given: a courier's ten delivered stops and a pay rule
    courier = active_courier()
    PayRuleFactory(hub=courier.home_hub, per_stop_minor=250)
    when = timezone.now() - dt.timedelta(hours=2)
    for _ in range(10):
        order = OrderFactory(hub=courier.home_hub, status=OrderStatus.OUT_FOR_DELIVERY)
        order_services.order_deliver(
            order=order, recipient_name="A", attempted_at=when, source="courier", actor=courier.user
        )

    # when
    results = race(services.earnings_accrue_stops, services.earnings_accrue_stops)

    # then: no error, and each attempt has exactly one ledger line
    assert not [r for r in results if isinstance(r, Exception)], results
    assert EarningEntry.objects.count() == 10
    assert EarningEntry.objects.values("source_id").distinct().count() == 10


def test_an_approval_racing_an_iban_change_never_approves_the_old_account():
    # given a closed batch, and a courier changing their IBAN in a transaction that has not
    # committed yet when a manager approves the batch
    from django.db import transaction

    from tests.factories import UserFactory
    from workforce import crypto
    from workforce.models import PayoutStatus

    courier = active_courier(n=0)
    entry(
        courier, amount_minor=700, earned_at=dt.datetime(2026, 3, 3, 9, tzinfo=BERLIN), source_id=1
    )
    (batch,) = services.payout_week_close(week_start=MONDAY).created
    manager = UserFactory(username="approver", is_staff=True)
    changed, release = threading.Event(), threading.Event()

    def change_iban():
        try:
            with transaction.atomic():
                services.courier_set_payout_account(
                    courier=courier, account_holder="Ada Courier0", iban="NL91ABNA0417164300"
                )
                changed.set()
                release.wait(timeout=10)  # the approval runs meanwhile
        finally:
            connection.close()

    def approve():
        try:
            changed.wait(timeout=10)
            threading.Timer(1.0, release.set).start()  # let the change commit a moment later
            return services.payout_batch_approve(batch=batch, actor=manager)
        finally:
            connection.close()

    # when both run
    changer, approver = threading.Thread(target=change_iban), threading.Thread(target=approve)
    changer.start()
    approver.start()
    changer.join(timeout=30)
    approver.join(timeout=30)

    # then the batch is approved to the new account (the approval waited for the change)
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.APPROVED
    assert crypto.decrypt(batch.payee_iban_encrypted) == "NL91ABNA0417164300"
