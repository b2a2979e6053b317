"""Brute force on sign-in: the back-office and the courier portal lock a username per IP."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from lastmile.accounts.roles import Role
from tests.factories import StaffFactory, UserFactory
from tests.workforce.factories import PASSWORD, CourierFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
PORTAL_LOGIN = "/courier/login/"
LOCKED = "Too many failed sign-in attempts"


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _admin_login(client: Client, password: str, username: str = "boss", **extra):
    data = {"username": username, "password": password, "next": "/admin/"}
    return client.post(ADMIN_LOGIN, data, **extra)


def _portal_login(client: Client, password: str, username: str = "ada@example.com", **extra):
    return client.post(PORTAL_LOGIN, {"username": username, "password": password}, **extra)


@pytest.fixture
def admin_user():
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def courier_user():
    return CourierFactory(
        user__username="ada@example.com", user__email="ada@example.com", user__password=PASSWORD
    ).user


def _age_failures(minutes: int) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=minutes))


def test_five_wrong_admin_passwords_lock_out_even_the_right_one(client, admin_user):
    # given: four wrong passwords are only wrong passwords
    for _ in range(4):
        assert _admin_login(client, "guess").status_code == 200

    # when: the fifth is wrong too, and then the right one comes
    fifth = _admin_login(client, "guess")
    right = _admin_login(client, "s3cret-pass")

    # then: both answer 429 with the lockout on the form, and nobody is signed in
    for response in (fifth, right):
        assert response.status_code == 429
        assert LOCKED in response.content.decode()
        assert 'class="errornote"' in response.content.decode()
        assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert "Please enter the correct username" not in right.content.decode()
    assert not _signed_in(client)


def test_five_wrong_portal_passwords_lock_out_the_courier_with_the_message_on_the_form(
    client, courier_user
):
    for _ in range(4):
        assert _portal_login(client, "guess").status_code == 200

    fifth = _portal_login(client, "guess")
    right = _portal_login(client, PASSWORD)

    for response in (fifth, right):
        html = response.content.decode()
        assert response.status_code == 429
        assert '<div role="alert">' in html
        assert LOCKED in html
        assert "in about 15 minutes" in html
        assert "Email or password is wrong" not in html
    assert not _signed_in(client)


def test_the_portal_counts_an_address_typed_in_any_case_as_one_username(client, courier_user):
    for variant in ("Ada@example.com", "ADA@example.com", "ada@EXAMPLE.com", " ada@example.com"):
        _portal_login(client, "guess", username=variant)
    _portal_login(client, "guess", username="ada@example.COM")

    assert _portal_login(client, PASSWORD).status_code == 429


def test_the_lockout_holds_one_username_from_one_address_only(admin_user):
    attacker, colleague = Client(REMOTE_ADDR="203.0.113.7"), Client(REMOTE_ADDR="198.51.100.2")
    for _ in range(5):
        _admin_login(attacker, "guess")

    # the same account from another address, and another account from the attacker's, still work
    assert _admin_login(colleague, "s3cret-pass").status_code == 302
    UserFactory(username="other", is_staff=True)
    assert _admin_login(attacker, "s3cret-pass", username="other").status_code == 302
    assert _admin_login(attacker, "s3cret-pass").status_code == 429


def test_a_forwarded_for_header_is_ignored_unless_the_app_is_told_it_sits_behind_a_proxy(
    client, admin_user, settings
):
    settings.USE_X_FORWARDED_HEADERS = False
    # an attacker rotating the header does not get fresh tries
    for n in range(5):
        _admin_login(client, "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert _admin_login(client, "s3cret-pass", HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_behind_a_proxy_the_address_our_proxy_appended_is_the_one_locked(admin_user, settings):
    settings.USE_X_FORWARDED_HEADERS = True
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    # the client varies what it sends; the proxy appends the real address 203.0.113.7 last
    for n in range(5):
        _admin_login(proxy, "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7")

    locked = _admin_login(proxy, "s3cret-pass", HTTP_X_FORWARDED_FOR="203.0.113.7")
    other_client = _admin_login(proxy, "s3cret-pass", HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert locked.status_code == 429
    assert other_client.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_the_lockout_ends_after_the_cool_off(client, admin_user):
    # given: locked out
    for _ in range(5):
        _admin_login(client, "guess")

    # when: 14 minutes after the last failure it still holds; after 15 it is over
    _age_failures(14)
    still_locked = _admin_login(client, "s3cret-pass")
    _age_failures(2)
    after = _admin_login(client, "s3cret-pass")

    # then
    assert still_locked.status_code == 429
    assert after.status_code == 302
    assert _signed_in(client)


def test_limit_and_cool_off_follow_the_settings(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=60)
    _admin_login(client, "guess")

    second = _admin_login(client, "guess")

    assert second.status_code == 429
    assert 59 * 60 < int(second["Retry-After"]) <= 60 * 60


def test_a_success_before_the_limit_clears_the_failures(client, admin_user):
    for _ in range(4):
        _admin_login(client, "guess")
    assert _admin_login(client, "s3cret-pass").status_code == 302
    client.logout()

    for _ in range(4):
        _admin_login(client, "guess")

    assert _admin_login(client, "s3cret-pass").status_code == 302


def test_an_admin_unlocks_a_courier_by_deleting_the_access_attempt(courier_user, admin_user):
    # given: the courier locked themselves out
    courier = Client()
    for _ in range(5):
        _portal_login(courier, "guess")
    attempt = AccessAttempt.objects.get(username="ada@example.com")
    admin = Client()
    admin.force_login(admin_user)

    # when: an admin finds the lockout and deletes it
    listing = admin.get("/admin/axes/accessattempt/?locked_out=yes")
    deleted = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    # then: the courier signs in at once
    assert listing.status_code == 200
    assert "ada@example.com" in listing.content.decode()
    assert deleted.status_code == 302
    assert _portal_login(courier, PASSWORD).status_code == 302


def test_the_reset_command_unlocks_a_username(client, admin_user):
    for _ in range(5):
        _admin_login(client, "guess")
    assert _admin_login(client, "s3cret-pass").status_code == 429

    call_command("axes_reset_username", "boss")

    assert _admin_login(client, "s3cret-pass").status_code == 302


@pytest.mark.parametrize("role", Role.ALL)
def test_back_office_roles_can_neither_see_nor_lift_lockouts(client, admin_user, role):
    # given: a locked-out admin, and a colleague of the role signed in elsewhere
    for _ in range(5):
        _admin_login(client, "guess")
    attempt = AccessAttempt.objects.get()
    assert _admin_login(client, "s3cret-pass").status_code == 429
    colleague = Client()
    colleague.force_login(StaffFactory(role=role))

    # when
    listing = colleague.get("/admin/axes/accessattempt/")
    delete = colleague.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    # then: only a superuser unlocks
    assert listing.status_code == 403
    assert delete.status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_a_malformed_forwarded_for_header_falls_back_to_the_connection_address(
    client, admin_user, settings
):
    settings.USE_X_FORWARDED_HEADERS = True

    response = _admin_login(client, "guess", HTTP_X_FORWARDED_FOR="not-an-address, <script>")

    assert response.status_code == 200
    assert AccessAttempt.objects.get().ip_address == "127.0.0.1"
