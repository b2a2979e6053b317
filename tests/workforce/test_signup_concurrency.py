"""Two courier sign-ups with one email at once, on PostgreSQL with real threads: one account."""

import pytest
from django.core import mail
from django.test import Client

from lastmile.accounts.models import User
from tests.races import race
from workforce.models import Courier, CourierApplication, CourierEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_sign_ups_with_one_email_make_one_account_and_no_error():
    # given: the same person submits the sign-up form twice (two tabs), case aside
    forms = [
        {"email": email, "password": "kiez-lieferung-2026", "password_again": "kiez-lieferung-2026"}
        for email in ("ada@example.com", "Ada@Example.com")
    ]

    # when
    answers = race(*(lambda form=form: Client().post("/courier/signup/", form) for form in forms))

    # then: both see the same "check your mail" page (no 500, and nothing that tells a
    # stranger the address has an account); one account; the owner is told by mail
    assert [getattr(a, "status_code", a) for a in answers] == [302, 302], answers
    assert {a["Location"] for a in answers} == {"/courier/signup/done/"}
    user = User.objects.get(email__iexact="ada@example.com")
    assert Courier.objects.filter(user=user).count() == 1
    assert CourierApplication.objects.filter(courier__user=user).count() == 1
    assert CourierEvent.objects.filter(kind=CourierEvent.Kind.SIGNED_UP).count() == 1
    assert sorted(m.subject for m in mail.outbox) == [
        "Confirm your email address to start your courier application",
        "You already have a courier account",
    ]
    assert all(m.to == ["ada@example.com"] for m in mail.outbox)
