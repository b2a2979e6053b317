"""Pay: stops and shifts priced into the ledger exactly once, weekly batches, corrections, files."""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.db import IntegrityError
from django.utils import timezone

from lastmile.core.errors import PermissionDenied, ValidationFailed
from lastmile.orders import services as order_services
from lastmile.orders.models import OrderStatus
from tests.factories import UserFactory
from tests.orders.factories import OrderFactory
from tests.workforce.factories import PayRuleFactory, active_courier, entry
from workforce import crypto, services
from workforce.models import (
    AppendOnlyError,
    Courier,
    EarningEntry,
    EarningKind,
    EarningSource,
    PayoutBatch,
    PayoutExport,
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


@pytest.fixture
def exporter():
    """A second finance user: whoever approved a batch may not export it (four eyes)."""
    return UserFactory(username="jonas", is_staff=True)


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


def test_pain001_file_has_the_schema_shape_totals_and_one_transfer_per_courier(manager, exporter):
    batches = _approved_batches(manager)

    export = services.payout_export_sepa(
        batch_ids=[b.pk for b in batches], actor=exporter, execution_date=dt.date(2026, 3, 10)
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


def test_export_refuses_batches_that_are_not_approved_and_writes_nothing(manager, exporter):
    from lastmile.core.errors import InvalidTransition

    batches = _approved_batches(manager, count=2)
    services.payout_batch_hold(batch=batches[1], actor=manager, reason="query")

    with pytest.raises(InvalidTransition):
        services.payout_export_sepa(batch_ids=[b.pk for b in batches], actor=exporter)

    assert {b.status for b in PayoutBatch.objects.all()} == {
        PayoutStatus.APPROVED,
        PayoutStatus.ON_HOLD,
    }


def test_export_needs_the_paying_account_configured(manager, exporter, settings):
    batches = _approved_batches(manager, count=1)
    settings.WORKFORCE_SEPA_DEBTOR_IBAN = ""

    with pytest.raises(Exception, match="paying account is not configured"):
        services.payout_export_sepa(batch_ids=[batches[0].pk], actor=exporter)


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


# --- The account a batch is paid to, and four eyes -------------------------------------------

NEW_IBAN = "NL91ABNA0417164300"


def _paid_ibans(export) -> dict[str, str]:
    root = ET.fromstring(export.file.open("rb").read())  # noqa: S314 - our own file
    return {
        t.find("p:PmtId/p:EndToEndId", NS).text: t.find("p:CdtrAcct/p:Id/p:IBAN", NS).text
        for t in root.iter(f"{{{NS['p']}}}CdtTrfTxInf")
    }


def _change_account(batch: PayoutBatch, *, iban: str = NEW_IBAN, holder: str = "Ada Courier0"):
    courier = batch.courier
    return services.courier_set_payout_account(
        courier=courier, account_holder=holder, iban=iban, actor=courier.user
    )


def test_an_iban_changed_after_approval_holds_the_batch_and_its_export_is_refused(
    manager, exporter
):
    # given an approved batch
    (batch,) = _approved_batches(manager, count=1)

    # when the courier changes their IBAN
    _change_account(batch)

    # then the batch is held with its reason and event, and the export refuses it
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.ACCOUNT_CHANGED
    assert "changed their payout account after approval" in batch.hold_reason
    event = batch.events.order_by("pk").last()
    assert (event.from_status, event.to_status) == ("approved", "account_changed")
    assert event.note == batch.hold_reason
    with pytest.raises(services.PayoutAccountChanged, match="release the hold"):
        services.payout_export_sepa(batch_ids=[batch.pk], actor=exporter)
    assert not PayoutExport.objects.exists()


def test_the_export_pays_the_account_approved_not_the_one_on_the_courier_now(manager, exporter):
    # given an approved batch, and the courier's row changed without the account service
    (batch,) = _approved_batches(manager, count=1)
    Courier.objects.filter(pk=batch.courier_id).update(
        iban_encrypted=crypto.encrypt(NEW_IBAN), iban_country="NL", iban_last4="4300"
    )

    # when it is exported
    export = services.payout_export_sepa(batch_ids=[batch.pk], actor=exporter)

    # then the bank is told to pay the approved account
    assert _paid_ibans(export) == {batch.end_to_end_id: "DE89370400440532013000"}


def test_releasing_an_account_hold_approves_the_new_account_and_the_export_pays_it(
    manager, exporter
):
    # given a batch held because the courier's IBAN changed after approval
    (batch,) = _approved_batches(manager, count=1)
    _change_account(batch)

    # when a finance user releases it after checking, and another one exports it
    released = services.payout_batch_release_account_hold(batch=batch, actor=exporter)
    export = services.payout_export_sepa(batch_ids=[batch.pk], actor=manager)

    # then the new account was approved by the releaser and is what the bank pays
    assert released.approved_by == exporter
    assert released.payee_iban_masked.endswith("4300")
    assert released.hold_reason == ""
    assert _paid_ibans(export) == {batch.end_to_end_id: NEW_IBAN}


def test_typing_the_same_account_again_does_not_hold_the_batch(manager):
    # given an approved batch
    (batch,) = _approved_batches(manager, count=1)

    # when the courier saves the same account again
    _change_account(batch, iban="DE89 3704 0044 0532 0130 00")

    # then nothing is held
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.APPROVED


def test_the_approver_cannot_export_their_own_batch_and_another_finance_user_can(manager, exporter):
    # given batches approved by the manager
    batches = _approved_batches(manager, count=2)
    ids = [b.pk for b in batches]

    # when the approver exports them
    with pytest.raises(PermissionDenied, match="another finance user must export") as excinfo:
        services.payout_export_sepa(batch_ids=ids, actor=manager)

    # then nothing was written, and a second person can export them
    assert excinfo.value.code == "payout_four_eyes"
    assert {b.status for b in PayoutBatch.objects.all()} == {PayoutStatus.APPROVED}
    export = services.payout_export_sepa(batch_ids=ids, actor=exporter)
    assert export.transaction_count == 2


def test_whoever_released_an_account_hold_cannot_export_that_batch(manager, exporter):
    # given a hold released by the exporter
    (batch,) = _approved_batches(manager, count=1)
    _change_account(batch)
    services.payout_batch_release_account_hold(batch=batch, actor=exporter)

    # when / then the releaser approved the new account, so another person exports
    with pytest.raises(PermissionDenied):
        services.payout_export_sepa(batch_ids=[batch.pk], actor=exporter)


def test_with_four_eyes_turned_off_the_approver_can_export(manager, settings):
    # given a one-person company
    settings.WORKFORCE_PAYOUT_FOUR_EYES = False
    batches = _approved_batches(manager, count=1)

    # when the approver exports
    export = services.payout_export_sepa(batch_ids=[batches[0].pk], actor=manager)

    # then the file is written
    assert export.transaction_count == 1


def test_a_refused_file_whose_courier_changed_account_meanwhile_goes_on_hold(manager, exporter):
    # given an exported batch whose courier then changed account
    (batch,) = _approved_batches(manager, count=1)
    services.payout_export_sepa(batch_ids=[batch.pk], actor=exporter)
    _change_account(batch)

    # when the bank refuses the file
    returned = services.payout_batch_return_to_approved(
        batch=batch, actor=exporter, reason="file refused"
    )

    # then it does not go back to the old account unseen
    assert returned.status == PayoutStatus.ACCOUNT_CHANGED


def test_a_batch_of_a_courier_without_an_account_cannot_be_approved(manager):
    # given a courier whose account was never entered
    courier = active_courier(n=0)
    Courier.objects.filter(pk=courier.pk).update(iban_encrypted="", iban_country="", iban_last4="")
    entry(courier, amount_minor=500, earned_at=at(MONDAY, 9), source_id=1)
    (batch,) = services.payout_week_close(week_start=MONDAY).created

    # when / then
    with pytest.raises(ValidationFailed, match="no payout account"):
        services.payout_batch_approve(batch=batch, actor=manager)
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.CLOSED


def test_an_approved_account_no_key_can_read_refuses_the_export_by_name(
    manager, exporter, settings
):
    # given an approved batch whose key has since been dropped
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    (batch,) = _approved_batches(manager, count=1)
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    # when it is exported
    with pytest.raises(ValidationFailed) as excinfo:
        services.payout_export_sepa(batch_ids=[batch.pk], actor=exporter)

    # then the refusal names the batch and the cause, and nothing moved
    (problem,) = excinfo.value.errors["__all__"]
    assert str(batch) in problem
    assert "cannot be decrypted" in problem
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.APPROVED
