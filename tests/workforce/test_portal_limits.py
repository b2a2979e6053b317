"""Mail-sending portal forms are rate limited per IP and per address; password reset works."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import UserFactory
from tests.workforce.factories import PASSWORD, CourierFactory

pytestmark = pytest.mark.django_db

LIMITED = "Too many requests"


def _signup(address: str) -> tuple[str, dict]:
    return "/courier/signup/", {"email": address, "password": PASSWORD, "password_again": PASSWORD}


def _resend(address: str) -> tuple[str, dict]:
    return "/courier/verify/resend/", {"email": address}


def _reset(address: str) -> tuple[str, dict]:
    return "/courier/password/reset/", {"email": address}


FORMS = pytest.mark.parametrize(
    "form", [_signup, _resend, _reset], ids=["signup", "resend", "reset"]
)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PORTAL_RATE_PER_IP = "4/h"
    settings.PORTAL_RATE_PER_ADDRESS = "2/h"


def _post(client: Client, form, address: str, django_capture_on_commit_callbacks):
    url, data = form(address)
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(url, data)


def _assert_limited(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    html = response.content.decode()
    assert '<div role="alert">' in html
    assert LIMITED in html


@FORMS
def test_the_third_request_for_one_address_is_refused_whatever_its_case(
    form, django_capture_on_commit_callbacks
):
    # given: an unconfirmed courier (resend) and an active one (reset) under this address
    CourierFactory(user__username="ada@example.com", user__email="ada@example.com")
    client = Client(REMOTE_ADDR="203.0.113.7")
    for address in ("ada@example.com", "Ada@Example.com"):
        assert _post(client, form, address, django_capture_on_commit_callbacks).status_code == 302
    sent = len(mail.outbox)

    # when: the same address comes a third time, from another address even
    third = _post(
        Client(REMOTE_ADDR="198.51.100.2"),
        form,
        "ADA@example.com ",
        django_capture_on_commit_callbacks,
    )

    # then: refused, nothing mailed; another address is still served
    _assert_limited(third)
    assert len(mail.outbox) == sent
    other = _post(client, form, "bob@example.com", django_capture_on_commit_callbacks)
    assert other.status_code == 302


@FORMS
def test_the_fifth_request_from_one_ip_is_refused_whatever_the_address(
    form, django_capture_on_commit_callbacks
):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(4):
        response = _post(client, form, f"person{n}@example.com", django_capture_on_commit_callbacks)
        assert response.status_code == 302

    fifth = _post(client, form, "person9@example.com", django_capture_on_commit_callbacks)
    elsewhere = _post(
        Client(REMOTE_ADDR="198.51.100.2"),
        form,
        "person9@example.com",
        django_capture_on_commit_callbacks,
    )

    _assert_limited(fifth)
    assert elsewhere.status_code == 302


@FORMS
def test_malformed_posts_count_against_the_ip(form, django_capture_on_commit_callbacks):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(4):
        assert _post(
            client, form, "not-an-address", django_capture_on_commit_callbacks
        ).status_code in (200, 400)

    _assert_limited(_post(client, form, "real@example.com", django_capture_on_commit_callbacks))


def test_a_courier_resets_a_forgotten_password_through_the_mailed_link(
    client, settings, django_capture_on_commit_callbacks
):
    # given
    settings.SITE_URL = "https://couriers.lastmile.invalid"
    settings.ALLOWED_HOSTS = ["*"]  # a lax host check must not put another host in the link
    user = CourierFactory(user__username="ada@example.com", user__email="ada@example.com").user

    # when: the courier asks for a link, from a request naming another host
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(
            "/courier/password/reset/", {"email": "ada@example.com"}, HTTP_HOST="evil.invalid"
        )

    # then: the mail links to our site, and the link sets the new password
    assert asked.status_code == 302
    assert asked["Location"] == "/courier/password/reset/sent/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    link = re.search(
        r"https://couriers\.lastmile\.invalid(/courier/password/reset/\S+)", mail.outbox[0].body
    )
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    new_password = "another-Long-passphrase-77"
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert done.status_code == 302
    assert done["Location"] == "/courier/password/reset/complete/"
    user.refresh_from_db()
    assert user.check_password(new_password)
    signed_in = client.post(
        "/courier/login/", {"username": "ada@example.com", "password": new_password}
    )
    assert signed_in.status_code == 302


def test_a_back_office_account_gets_no_reset_mail_from_the_portal(client):
    UserFactory(username="boss", email="boss@example.com", is_staff=True, is_superuser=True)

    response = client.post("/courier/password/reset/", {"email": "boss@example.com"})

    assert response.status_code == 302  # the same page as for anyone (no enumeration)
    assert mail.outbox == []
