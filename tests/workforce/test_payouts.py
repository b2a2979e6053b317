"""Pay: stops and shifts priced into the ledger exactly once, weekly batches, corrections, files."""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from lastmile.core.errors import ValidationFailed
from lastmile.orders import services as order_services
from lastmile.orders.models import OrderStatus
from tests.factories import UserFactory
from tests.orders.factories import OrderFactory
from tests.workforce.factories import PayRuleFactory, active_courier, entry
from workforce import services
from workforce.models import (
    AppendOnlyError,
    EarningEntry,
    EarningKind,
    EarningSource,
    PayoutBatch,
    PayoutStatus,
    PayoutWeek,
    PeakWindow,
)
from workforce.tasks import close_payout_week_task

pytestmark = pytest.mark.django_db

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
MONDAY = dt.date(2026, 3, 2)  # a Monday in the past


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def manager():
    return UserFactory(username="wiebke", is_staff=True)


# --- Pricing --------------------------------------------------------------------------------


def _delivered_by(courier, *, when: dt.datetime):
    order = OrderFactory(
        hub=courier.home_hub,
        status=OrderStatus.OUT_FOR_DELIVERY,
        window_start=when - dt.timedelta(hours=1),
        window_end=when + dt.timedelta(hours=1),
    )
    return order_services.order_deliver(
        order=order,
        recipient_name="Neighbour",
        attempted_at=when,
        source="courier",
        actor=courier.user,
    )


def test_a_stop_is_priced_once_however_often_accrual_runs():
    courier = active_courier()
    PayRuleFactory(hub=courier.home_hub, per_stop_minor=250)
    attempt = _delivered_by(courier, when=at(MONDAY, 10))

    services.earnings_accrue_stops()
    services.earnings_accrue_stops()

    line = EarningEntry.objects.get()
    assert (line.source_type, line.source_id, line.kind) == ("delivery_attempt", attempt.pk, "stop")
    assert line.amount_minor == 250


def test_the_ledger_refuses_a_second_line_for_the_same_event():
    courier = active_courier()
    entry(courier, amount_minor=250, earned_at=at(MONDAY, 10), source_id=77)

    with pytest.raises(IntegrityError):
        entry(courier, amount_minor=250, earned_at=at(MONDAY, 11), source_id=77)


def test_ledger_lines_cannot_be_edited_or_deleted():
    line = entry(active_courier(), amount_minor=250, earned_at=at(MONDAY, 10), source_id=1)

    line.amount_minor = 9999
    with pytest.raises(AppendOnlyError):
        line.save()
    with pytest.raises(AppendOnlyError):
        line.delete()


def test_peak_hours_are_paid_at_the_multiplier():
    courier = active_courier()
    rule = PayRuleFactory(hub=courier.home_hub, per_stop_minor=200)
    PeakWindow.objects.create(
        rule=rule,
        weekday=MONDAY.weekday(),
        starts_at=dt.time(17),
        ends_at=dt.time(20),
        multiplier_pct=125,
    )
    _delivered_by(courier, when=at(MONDAY, 10))
    _delivered_by(courier, when=at(MONDAY, 18))

    services.earnings_accrue_stops()

    assert sorted(EarningEntry.objects.values_list("amount_minor", flat=True)) == [200, 250]


def test_attempts_without_a_pay_rule_wait_for_one():
    courier = active_courier()
    _delivered_by(courier, when=at(MONDAY, 10))

    assert services.earnings_accrue_stops() == 0
    PayRuleFactory(hub=courier.home_hub)
    assert services.earnings_accrue_stops() == 1


def test_a_completed_shift_pays_hours_distance_and_tops_up_to_the_guarantee():
    courier = active_courier()
    PayRuleFactory(
        hub=courier.home_hub,
        per_stop_minor=0,
        per_hour_minor=1200,
        per_km_minor=30,
        min_guarantee_per_shift_minor=10_000,
    )
    start = at(MONDAY, 8)
    shift = services.shift_schedule(
        courier=courier, hub=courier.home_hub, planned_start=start, planned_end=at(MONDAY, 12)
    )
    services.shift_start(shift=shift, at=start)

    services.shift_complete(shift=shift, at=at(MONDAY, 12), distance_m=40_000)
    services.shift_earnings_record(shift=shift)  # again: nothing new

    lines = dict(EarningEntry.objects.values_list("kind", "amount_minor"))
    assert lines == {"hours": 4800, "distance": 1200, "guarantee": 4000}


# --- Weekly batches -----------------------------------------------------------------------


def test_closing_a_week_twice_creates_one_batch_with_the_right_total(manager):
    # given: two couriers' earnings in the week, and one in the next week
    ada, ben = active_courier(n=1), active_courier(n=2)
    entry(ada, amount_minor=250, earned_at=at(MONDAY, 9), source_id=1)
    entry(ada, amount_minor=300, earned_at=at(MONDAY + dt.timedelta(days=6), 22), source_id=2)
    entry(ben, amount_minor=1000, earned_at=at(MONDAY + dt.timedelta(days=2), 12), source_id=3)
    entry(ada, amount_minor=999, earned_at=at(MONDAY + dt.timedelta(days=7), 0), source_id=4)

    # when
    first = services.payout_week_close(week_start=MONDAY, actor=manager)
    second = services.payout_week_close(week_start=MONDAY, actor=manager)

    # then
    assert second.already_closed
    assert second.created == []
    assert PayoutBatch.objects.count() == 2
    totals = {b.courier_id: (b.total_minor, b.entry_count) for b in first.created}
    assert totals == {ada.pk: (550, 2), ben.pk: (1000, 1)}
    assert PayoutWeek.objects.get().total_minor == 1550
    assert EarningEntry.objects.filter(batch__isnull=True).get().amount_minor == 999


def test_the_task_closes_the_last_week_that_ended_and_is_idempotent():
    courier = active_courier()
    last_monday = services.last_completed_week()
    entry(courier, amount_minor=700, earned_at=at(last_monday, 10), source_id=5)

    created = [close_payout_week_task.apply().get() for _ in range(2)]

    assert created == [1, 0]
    assert PayoutBatch.objects.get().week.week_start == last_monday


def test_a_week_that_has_not_ended_cannot_be_closed():
    today = timezone.localdate()
    with pytest.raises(ValidationFailed):
        services.payout_week_close(week_start=today - dt.timedelta(days=today.weekday()))
    with pytest.raises(ValidationFailed):
        services.payout_week_close(week_start=MONDAY + dt.timedelta(days=1))


def test_an_entry_written_after_its_week_closed_goes_into_the_next_batch():
    courier = active_courier()
    entry(courier, amount_minor=250, earned_at=at(MONDAY, 9), source_id=1)
    services.payout_week_close(week_start=MONDAY)

    # a stop of that week priced late (the courier's phone was offline)
    entry(courier, amount_minor=400, earned_at=at(MONDAY, 15), source_id=2)
    again = services.payout_week_close(week_start=MONDAY)
    next_week = services.payout_week_close(week_start=MONDAY + dt.timedelta(days=7))

    closed = PayoutBatch.objects.get(week__week_start=MONDAY)
    assert again.created == []
    assert (closed.total_minor, closed.entry_count) == (250, 1)
    assert [(b.total_minor, b.entry_count) for b in next_week.created] == [(400, 1)]


def test_a_correction_changes_the_next_batch_not_the_closed_one(manager):
    # given: a closed week paying a stop at 2.50
    courier = active_courier()
    stop = entry(courier, amount_minor=250, earned_at=at(MONDAY, 9), source_id=1)
    closed = services.payout_week_close(week_start=MONDAY).created[0]

    # when: the stop should have paid 4.00, then 3.50 (a correction of the correction)
    first = services.earning_correct(
        entry=stop, amount_minor=400, reason="peak missed", actor=manager
    )
    second = services.earning_correct(entry=stop, amount_minor=350, reason="typo", actor=manager)

    # then: the closed batch is unchanged; both corrections wait for the next batch
    closed.refresh_from_db()
    assert (closed.total_minor, closed.entry_count) == (250, 1)
    assert services.payouts.payout_batch_total_check(closed)
    assert (first.amount_minor, first.corrects_id) == (150, stop.pk)
    assert (second.amount_minor, second.corrects_id) == (-50, first.pk)
    assert EarningEntry.objects.filter(batch__isnull=True).count() == 2
    this_week = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    result = services.payout_week_close(
        week_start=this_week, now=timezone.now() + dt.timedelta(days=8)
    )
    assert [b.total_minor for b in result.created] == [100]


def test_corrections_need_a_reason_a_change_and_the_original_entry(manager):
    stop = entry(active_courier(), amount_minor=250, earned_at=at(MONDAY, 9), source_id=1)

    with pytest.raises(ValidationFailed):
        services.earning_correct(entry=stop, amount_minor=300, reason=" ", actor=manager)
    with pytest.raises(ValidationFailed):
        services.earning_correct(entry=stop, amount_minor=250, reason="same", actor=manager)
    correction = services.earning_correct(entry=stop, amount_minor=300, reason="x", actor=manager)
    with pytest.raises(ValidationFailed):
        services.earning_correct(entry=correction, amount_minor=1, reason="x", actor=manager)


def test_a_negative_balance_is_carried_over_not_paid():
    courier = active_courier()
    stop = entry(courier, amount_minor=250, earned_at=at(MONDAY, 9), source_id=1)
    services.payout_week_close(week_start=MONDAY)
    EarningEntry.objects.create(
        courier=courier,
        kind=EarningKind.CORRECTION,
        source_type=EarningSource.EARNING_ENTRY,
        source_id=stop.pk,
        corrects=stop,
        amount_minor=-250,
        currency="EUR",
        earned_at=at(MONDAY + dt.timedelta(days=7), 9),
    )

    result = services.payout_week_close(week_start=MONDAY + dt.timedelta(days=7))

    assert result.created == []
    assert result.carried_over == [courier.pk]


# --- Files for the bank and accounting ------------------------------------------------------


def _approved_batches(manager, count: int = 3) -> list[PayoutBatch]:
    couriers = [active_courier(n=n) for n in range(count)]
    for n, courier in enumerate(couriers):
        entry(courier, amount_minor=1234 * (n + 1), earned_at=at(MONDAY, 9), source_id=n + 1)
        entry(courier, amount_minor=1, earned_at=at(MONDAY, 10), source_id=100 + n)
    batches = services.payout_week_close(week_start=MONDAY).created
    return [services.payout_batch_approve(batch=b, actor=manager) for b in batches]


def test_pain001_file_has_the_schema_shape_totals_and_one_transfer_per_courier(manager):
    batches = _approved_batches(manager)

    export = services.payout_export_sepa(
        batch_ids=[b.pk for b in batches], actor=manager, execution_date=dt.date(2026, 3, 10)
    )

    root = ET.fromstring(export.file.open("rb").read())  # noqa: S314 - our own file
    assert root.tag == "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}Document"
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    payment = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    transfers = payment.findall("p:CdtTrfTxInf", NS)
    amounts = [Decimal(t.find("p:Amt/p:InstdAmt", NS).text) for t in transfers]
    assert header.find("p:MsgId", NS).text == export.message_id
    assert dt.datetime.fromisoformat(header.find("p:CreDtTm", NS).text)
    assert header.find("p:NbOfTxs", NS).text == payment.find("p:NbOfTxs", NS).text == "3"
    assert Decimal(header.find("p:CtrlSum", NS).text) == sum(amounts) == Decimal("74.07")
    assert Decimal(payment.find("p:CtrlSum", NS).text) == sum(amounts)
    assert payment.find("p:PmtMtd", NS).text == "TRF"
    assert payment.find("p:ReqdExctnDt", NS).text == "2026-03-10"
    assert payment.find("p:Dbtr/p:Nm", NS).text
    assert payment.find("p:DbtrAcct/p:Id/p:IBAN", NS).text == "DE02120300000000202051"
    assert payment.find("p:DbtrAgt/p:FinInstnId/p:BIC", NS).text == "BYLADEM1001"
    assert {t.find("p:Amt/p:InstdAmt", NS).get("Ccy") for t in transfers} == {"EUR"}
    by_id = {t.find("p:PmtId/p:EndToEndId", NS).text: t for t in transfers}
    assert set(by_id) == {b.end_to_end_id for b in batches}
    first = by_id[batches[0].end_to_end_id]
    assert first.find("p:CdtrAcct/p:Id/p:IBAN", NS).text == "DE89370400440532013000"
    assert first.find("p:Cdtr/p:Nm", NS).text == "Ada Courier0"
    assert {b.status for b in PayoutBatch.objects.all()} == {PayoutStatus.EXPORTED}
    assert export.transaction_count == 3
    assert export.control_sum_minor == 7407


def test_export_refuses_batches_that_are_not_approved_and_writes_nothing(manager):
    from lastmile.core.errors import InvalidTransition

    batches = _approved_batches(manager, count=2)
    services.payout_batch_hold(batch=batches[1], actor=manager, reason="query")

    with pytest.raises(InvalidTransition):
        services.payout_export_sepa(batch_ids=[b.pk for b in batches], actor=manager)

    assert {b.status for b in PayoutBatch.objects.all()} == {
        PayoutStatus.APPROVED,
        PayoutStatus.ON_HOLD,
    }


def test_export_needs_the_paying_account_configured(manager, settings):
    batches = _approved_batches(manager, count=1)
    settings.WORKFORCE_SEPA_DEBTOR_IBAN = ""

    with pytest.raises(Exception, match="paying account is not configured"):
        services.payout_export_sepa(batch_ids=[batches[0].pk], actor=manager)


def test_sepa_names_are_transliterated():
    from workforce.exports import sepa_text

    assert sepa_text("Jürgen Groß & Söhne <GmbH>", 70) == "Juergen Gross + Soehne GmbH"
    assert sepa_text("Zieliński", 70) == "Zielinski"


def test_csv_lists_every_entry_with_a_masked_iban_and_defused_cells(manager):
    from workforce.admin.pay import _csv_rows
    from workforce.exports import payout_csv

    _approved_batches(manager, count=2)

    text = payout_csv(_csv_rows(PayoutBatch.objects.all()))
    rows = list(csv.DictReader(io.StringIO(text)))

    assert len(rows) == 4
    assert {r["iban"] for r in rows} == {"DE•• •••• •••• •••• 3000", "DE•• •••• •••• •••• 2051"}
    assert "0532013" not in text
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("37.04")


def test_a_second_correction_of_the_same_line_is_refused_by_the_database(manager):
    # given: a stop and its correction
    stop = entry(active_courier(), amount_minor=250, earned_at=at(MONDAY, 9), source_id=1)
    services.earning_correct(entry=stop, amount_minor=300, reason="peak missed", actor=manager)

    # then: a racing writer naming the same line again cannot insert (the service chains
    # corrections onto the latest one instead, and turns this error into a 409)
    with pytest.raises(IntegrityError):
        EarningEntry.objects.create(
            courier_id=stop.courier_id,
            kind=EarningKind.CORRECTION,
            source_type=EarningSource.EARNING_ENTRY,
            source_id=stop.pk,
            corrects=stop,
            amount_minor=20,
            currency="EUR",
            earned_at=timezone.now(),
        )


def test_clock_times_without_a_time_zone_are_refused():
    courier = active_courier()
    PayRuleFactory(hub=courier.home_hub)
    start = at(MONDAY, 8)
    shift = services.shift_schedule(
        courier=courier, hub=courier.home_hub, planned_start=start, planned_end=at(MONDAY, 12)
    )

    with pytest.raises(ValidationFailed):
        services.shift_start(shift=shift, at=start.replace(tzinfo=None))
    services.shift_start(shift=shift, at=start)
    with pytest.raises(ValidationFailed):
        services.shift_complete(shift=shift, at=at(MONDAY, 12).replace(tzinfo=None))

    assert not EarningEntry.objects.exists()
