"""A person locked out after guessing wrong sees, on the sign-in form, until when."""

import pytest

from tests.workforce.factories import PASSWORD, CourierFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_courier_locked_out_reads_when_to_try_again_on_the_sign_in_form(page, live_server):
    # given: a courier account
    CourierFactory(
        user__username="ada@example.com", user__email="ada@example.com", user__password=PASSWORD
    )
    page.goto(f"{live_server.url}/courier/login/")

    # when: five wrong passwords, then the right one
    for password in ["guess"] * 5 + [PASSWORD]:
        page.fill("#id_username", "ada@example.com")
        page.fill("#id_password", password)
        with page.expect_navigation() as navigation:
            page.click("button[type=submit]")

    # then: still on the sign-in page, the form says the sign-in is blocked and until when
    assert navigation.value.status == 429
    alert = page.get_by_role("alert")
    assert "Too many failed sign-in attempts" in alert.inner_text()
    assert "in about 15 minutes" in alert.inner_text()
    assert page.url.endswith("/courier/login/")
