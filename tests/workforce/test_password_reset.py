"""The courier portal's password reset mails after commit, through the courier mail task."""

import re
from smtplib import SMTPServerDisconnected

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client

from tests.workforce.factories import CourierFactory
from workforce.tasks import send_courier_email_task

pytestmark = pytest.mark.django_db

RESET = "/courier/password/reset/"
SITE = "https://couriers.lastmile.invalid"


class FailingEmailBackend(BaseEmailBackend):
    """A mail server that drops the connection on every send (and counts the attempts)."""

    attempts: list[str] = []

    def send_messages(self, email_messages):
        self.attempts.append(email_messages[0].to[0])
        raise SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def ada():
    return CourierFactory(user__username="ada@example.com", user__email="ada@example.com")


def _ask(client: Client, address: str, capture) -> tuple:
    with capture(execute=False) as callbacks:
        response = client.post(RESET, {"email": address}, follow=True)
    return response, callbacks


def test_reset_answers_the_same_page_and_mails_nobody_inside_the_request(
    ada, django_capture_on_commit_callbacks
):
    # when: one request for a courier's address, one for an address without an account
    known, known_callbacks = _ask(Client(), "ada@example.com", django_capture_on_commit_callbacks)
    unknown, unknown_callbacks = _ask(
        Client(), "nobody@example.com", django_capture_on_commit_callbacks
    )

    # then: the same page, and no mail was sent while answering either
    assert known.status_code == unknown.status_code == 200
    assert (
        known.redirect_chain == unknown.redirect_chain == [("/courier/password/reset/sent/", 302)]
    )
    assert known.content == unknown.content
    assert mail.outbox == []
    # only the courier's request queued a mail, sent once the request has committed
    assert unknown_callbacks == []
    assert len(known_callbacks) == 1
    known_callbacks[0]()
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_a_failing_mail_server_does_not_fail_the_reset_request(
    ada, settings, django_capture_on_commit_callbacks
):
    # given: the mail server drops every connection
    settings.EMAIL_BACKEND = f"{__name__}.FailingEmailBackend"
    FailingEmailBackend.attempts.clear()
    client = Client(raise_request_exception=False)

    # when
    response, callbacks = _ask(client, "ada@example.com", django_capture_on_commit_callbacks)

    # then: the courier sees the usual page, and the mail server was not called meanwhile
    assert response.status_code == 200
    assert response.redirect_chain == [("/courier/password/reset/sent/", 302)]
    assert FailingEmailBackend.attempts == []
    # the queued task meets the failure and asks to be retried later
    assert len(callbacks) == 1
    with pytest.raises(Retry):
        callbacks[0]()
    assert FailingEmailBackend.attempts == ["ada@example.com"]


def test_the_mail_task_sends_a_reset_link_on_site_url_that_sets_a_new_password(
    ada, client, settings
):
    # given
    settings.SITE_URL = SITE

    # when: the task the reset request queued runs on the notifications worker
    send_courier_email_task.apply(args=(ada.pk, "password_reset", {})).get()

    # then: one mail whose link, on our site, lets the courier choose a new password
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].subject == "Choose a new password for your Lastmile courier account"
    link = re.search(re.escape(SITE) + r"(/courier/password/reset/\S+/)", mail.outbox[0].body)
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
    ada.user.refresh_from_db()
    assert ada.user.check_password(new_password)


def test_no_reset_mail_for_an_account_closed_before_the_task_ran(ada):
    # given: the account was deactivated after the reset was asked for
    ada.user.is_active = False
    ada.user.save(update_fields=["is_active"])

    # when
    send_courier_email_task.apply(args=(ada.pk, "password_reset", {})).get()

    # then
    assert mail.outbox == []
