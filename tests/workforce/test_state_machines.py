"""Every (state, move) pair of the workforce state machines, through the real services.

Application, courier, payout batch and shift: an allowed move lands in the target with one
audit row per step; any other raises ``InvalidTransition`` and changes nothing.
"""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from lastmile.core.errors import InvalidTransition
from tests.factories import UserFactory
from tests.hubs.factories import HubFactory
from tests.workforce.factories import CourierFactory, active_courier, complete_application
from workforce import services
from workforce.models import (
    APPLICATION_TRANSITIONS,
    COURIER_TRANSITIONS,
    PAYOUT_TRANSITIONS,
    SHIFT_TRANSITIONS,
    ApplicationStatus,
    CourierApplication,
    CourierEvent,
    CourierStatus,
    PayoutBatch,
    PayoutBatchEvent,
    PayoutStatus,
    PayoutWeek,
    Shift,
    ShiftStatus,
)

pytestmark = pytest.mark.django_db

AS, CS, PS, SS = ApplicationStatus, CourierStatus, PayoutStatus, ShiftStatus


@pytest.fixture
def reviewer():
    return UserFactory(username="wiebke", is_staff=True)


# --- Application ----------------------------------------------------------------------------

APPLICATION_MOVES = {
    AS.SUBMITTED: lambda app, who: services.application_submit(courier=app.courier),
    AS.UNDER_REVIEW: lambda app, who: services.application_start_review(
        application=app, reviewer=who
    ),
    AS.APPROVED: lambda app, who: services.application_approve(application=app, reviewer=who),
    AS.REJECTED: lambda app, who: services.application_reject(
        application=app, reviewer=who, reason="Permit does not allow this work."
    ),
    AS.CHANGES_REQUESTED: lambda app, who: services.application_request_changes(
        application=app, reviewer=who, reason="ID photo is blurred."
    ),
}
# The courier's status that goes with each application state.
COURIER_FOR = {AS.APPROVED: CS.ACTIVE, AS.REJECTED: CS.OFFBOARDED}


def _application_in(state: str) -> CourierApplication:
    courier = complete_application(CourierFactory(), hub=HubFactory())
    CourierApplication.objects.filter(courier=courier).update(
        status=state,
        submitted_at=None if state == AS.DRAFT else timezone.now(),
        decision_note="note" if state in (AS.REJECTED, AS.CHANGES_REQUESTED) else "",
    )
    courier.__class__.objects.filter(pk=courier.pk).update(
        status=COURIER_FOR.get(state, CS.APPLICANT)
    )
    return CourierApplication.objects.select_related("courier").get(courier=courier)


def _expected_path(current: str, target: str) -> list[tuple[str, str]] | None:
    if target in APPLICATION_TRANSITIONS[current]:
        return [(current, target)]
    # A decision on a submitted application takes it into review first (both recorded).
    if current == AS.SUBMITTED and target in APPLICATION_TRANSITIONS[AS.UNDER_REVIEW]:
        return [(AS.SUBMITTED, AS.UNDER_REVIEW), (AS.UNDER_REVIEW, target)]
    return None


def test_every_application_state_has_a_row_and_nothing_leads_back_to_draft():
    assert set(APPLICATION_TRANSITIONS) == set(AS.values)
    assert all(AS.DRAFT not in targets for targets in APPLICATION_TRANSITIONS.values())
    assert set(APPLICATION_MOVES) == set(AS.values) - {AS.DRAFT}


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c, t in itertools.product(AS.values, APPLICATION_MOVES) if c != t],
)
def test_application_move(current, target, reviewer):
    application = _application_in(current)
    expected = _expected_path(current, target)

    if expected is None:
        with pytest.raises(InvalidTransition):
            APPLICATION_MOVES[target](application, reviewer)
        application.refresh_from_db()
        assert application.status == current
        assert not application.courier.events.filter(
            kind=CourierEvent.Kind.APPLICATION_STATUS
        ).exists()
    else:
        APPLICATION_MOVES[target](application, reviewer)
        application.refresh_from_db()
        assert application.status == target
        events = application.courier.events.filter(kind=CourierEvent.Kind.APPLICATION_STATUS)
        assert [(e.from_status, e.to_status) for e in events] == expected
        if target == AS.APPROVED:
            assert (
                application.courier.__class__.objects.get(pk=application.courier_id).status
                == CS.ACTIVE
            )


@pytest.mark.parametrize("state", [AS.SUBMITTED, AS.UNDER_REVIEW, AS.APPROVED, AS.REJECTED])
def test_repeating_the_current_application_state_is_a_no_op(state, reviewer):
    application = _application_in(state)

    APPLICATION_MOVES[state](application, reviewer)

    application.refresh_from_db()
    assert application.status == state
    assert not application.courier.events.filter(kind=CourierEvent.Kind.APPLICATION_STATUS).exists()


# --- Courier --------------------------------------------------------------------------------

COURIER_MOVES = {
    CS.ACTIVE: lambda c, who: services.courier_reactivate(courier=c, actor=who),
    CS.SUSPENDED: lambda c, who: services.courier_suspend(courier=c, actor=who, reason="complaint"),
    CS.OFFBOARDED: lambda c, who: services.courier_offboard(courier=c, actor=who, reason="left"),
}


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c, t in itertools.product(CS.values, COURIER_MOVES) if c != t],
)
def test_courier_move(current, target, reviewer):
    courier = CourierFactory(status=current, home_hub=HubFactory(), vehicle="bike")
    # applicant → active belongs to approval, not to "reactivate".
    allowed = (target in COURIER_TRANSITIONS[current] and current != CS.APPLICANT) or (
        current == CS.APPLICANT and target == CS.OFFBOARDED
    )

    if allowed:
        COURIER_MOVES[target](courier, reviewer)
        courier.refresh_from_db()
        assert courier.status == target
        events = courier.events.filter(kind=CourierEvent.Kind.COURIER_STATUS)
        assert [(e.from_status, e.to_status) for e in events] == [(current, target)]
    else:
        with pytest.raises(InvalidTransition):
            COURIER_MOVES[target](courier, reviewer)
        courier.refresh_from_db()
        assert courier.status == current
        assert not courier.events.exists()


# --- Payout batch ---------------------------------------------------------------------------

PAYOUT_MOVES = {
    PS.APPROVED: lambda b, who: services.payout_batch_approve(batch=b, actor=who),
    PS.ON_HOLD: lambda b, who: services.payout_batch_hold(batch=b, actor=who, reason="query"),
    PS.EXPORTED: lambda b, who: services.payout_export_sepa(batch_ids=[b.pk], actor=who),
    PS.PAID: lambda b, who: services.payout_batch_mark_paid(batch=b, actor=who),
}
# exported → approved is the bank refusing a file, account changed → approved is finance
# releasing an account hold: their own services, tested below.
RETURN = (PS.EXPORTED, PS.APPROVED)
RELEASE = (PS.ACCOUNT_CHANGED, PS.APPROVED)
# States in which the batch carries the account it was approved with.
WITH_PAYEE = {PS.APPROVED, PS.ACCOUNT_CHANGED, PS.EXPORTED, PS.PAID}


def _batch_in(state: str) -> PayoutBatch:
    from workforce.models import PayoutExport

    courier = active_courier(n=1)
    week, _ = PayoutWeek.objects.get_or_create(
        week_start=dt.date(2026, 1, 5), defaults={"closed_at": timezone.now()}
    )
    export = None
    if state in (PS.EXPORTED, PS.PAID):
        export = PayoutExport.objects.create(
            message_id=f"MSG-{courier.pk}",
            file="workforce/payouts/x.xml",
            transaction_count=1,
            control_sum_minor=1000,
            currency="EUR",
            requested_execution_date=dt.date(2026, 1, 13),
        )
    payee = {}
    if state in WITH_PAYEE:
        payee = {
            "payee_name": courier.account_holder,
            "payee_iban_encrypted": courier.iban_encrypted,
            "payee_iban_country": courier.iban_country,
            "payee_iban_last4": courier.iban_last4,
        }
    return PayoutBatch.objects.create(
        courier=courier,
        week=week,
        currency="EUR",
        total_minor=1000,
        entry_count=1,
        status=state,
        export=export,
        end_to_end_id=f"LM-TEST-{courier.pk}",
        **payee,
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (c, t)
        for c, t in itertools.product(PS.values, PAYOUT_MOVES)
        if c != t and (c, t) not in (RETURN, RELEASE)
    ],
)
def test_payout_move(current, target, reviewer):
    batch = _batch_in(current)
    allowed = target in PAYOUT_TRANSITIONS[current]

    if allowed:
        PAYOUT_MOVES[target](batch, reviewer)
        batch.refresh_from_db()
        assert batch.status == target
        events = PayoutBatchEvent.objects.filter(batch=batch)
        assert [(e.from_status, e.to_status) for e in events] == [(current, target)]
    else:
        with pytest.raises(InvalidTransition):
            PAYOUT_MOVES[target](batch, reviewer)
        batch.refresh_from_db()
        assert batch.status == current
        assert not PayoutBatchEvent.objects.filter(batch=batch).exists()


def test_a_refused_bank_file_puts_the_batch_back_to_approved(reviewer):
    batch = _batch_in(PS.EXPORTED)

    services.payout_batch_return_to_approved(batch=batch, actor=reviewer, reason="file refused")

    batch.refresh_from_db()
    assert batch.status == PS.APPROVED
    with pytest.raises(InvalidTransition):
        services.payout_batch_return_to_approved(
            batch=_batch_in(PS.CLOSED), actor=reviewer, reason="x"
        )


@pytest.mark.parametrize("current", [s for s in PS.values if s != PS.APPROVED])
def test_only_a_batch_held_for_an_account_change_can_be_released(current, reviewer):
    batch = _batch_in(current)

    if current == PS.ACCOUNT_CHANGED:
        services.payout_batch_release_account_hold(batch=batch, actor=reviewer)
        batch.refresh_from_db()
        assert batch.status == PS.APPROVED
        events = PayoutBatchEvent.objects.filter(batch=batch)
        assert [(e.from_status, e.to_status) for e in events] == [(current, PS.APPROVED)]
    else:
        with pytest.raises(InvalidTransition):
            services.payout_batch_release_account_hold(batch=batch, actor=reviewer)
        batch.refresh_from_db()
        assert batch.status == current
        assert not PayoutBatchEvent.objects.filter(batch=batch).exists()


def test_approving_does_not_release_an_account_hold(reviewer):
    batch = _batch_in(PS.ACCOUNT_CHANGED)

    with pytest.raises(InvalidTransition):
        services.payout_batch_approve(batch=batch, actor=reviewer)

    batch.refresh_from_db()
    assert batch.status == PS.ACCOUNT_CHANGED


# --- Shift ----------------------------------------------------------------------------------

SHIFT_MOVES = {
    SS.STARTED: lambda s: services.shift_start(shift=s),
    SS.COMPLETED: lambda s: services.shift_complete(shift=s),
    SS.CANCELLED: lambda s: services.shift_cancel(shift=s),
}


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c, t in itertools.product(SS.values, SHIFT_MOVES) if c != t],
)
def test_shift_move(current, target):
    courier = active_courier()
    start = timezone.now() - dt.timedelta(hours=3)
    shift = Shift.objects.create(
        courier=courier,
        hub=courier.home_hub,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=4),
        status=current,
        started_at=start if current in (SS.STARTED, SS.COMPLETED) else None,
        ended_at=start + dt.timedelta(hours=2) if current == SS.COMPLETED else None,
        worked_s=7200 if current == SS.COMPLETED else None,
    )

    if target in SHIFT_TRANSITIONS[current]:
        SHIFT_MOVES[target](shift)
        shift.refresh_from_db()
        assert shift.status == target
        assert (
            courier.events.filter(kind=CourierEvent.Kind.SHIFT_STATUS, to_status=target).count()
            == 1
        )
    else:
        with pytest.raises(InvalidTransition):
            SHIFT_MOVES[target](shift)
        shift.refresh_from_db()
        assert shift.status == current
