"""A dispatcher uploads the issue's order file and sees every bad cell and the warnings to confirm."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.accounts.roles import Role
from lastmile.orders.models import Order
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory
from tests.orders.factories import PartnerFactory
from tests.orders.implausible_file import fixture_file, kreuzberg_hub

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dispatcher_sees_each_rows_problems_and_confirms_the_warnings(page, live_server):
    # given: a dispatcher, a partner and the Kreuzberg micro-hub with its vehicles
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    partner = PartnerFactory(name="Kiezkaufhaus", slug="kiezkaufhaus")
    hub = kreuzberg_hub()
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    admin_login(page, live_server, username="dora", password="s3cret-pass")

    # when: the file is uploaded for a preview
    page.goto(f"{live_server.url}/admin/orders/order/import/")
    page.select_option("#id_partner", str(partner.pk))
    page.select_option("#id_hub", str(hub.pk))
    page.set_input_files(
        "#id_file",
        {
            "name": "kiezkaufhaus.csv",
            "mimeType": "text/csv",
            "buffer": fixture_file("csv", tomorrow),
        },
    )
    page.click("input[type=submit][value=Preview]")
    page.locator("#import-problems").wait_for()

    # then: every bad cell sits next to its row, errors and warnings told apart
    def problems(row: int) -> dict[str, str]:
        lines = page.locator(f'#import-problems tbody[data-row="{row}"] tr')
        return {
            lines.nth(i).get_attribute("data-column"): lines.nth(i)
            .locator("td")
            .nth(2)
            .inner_text()
            for i in range(lines.count())
        }

    assert set(problems(4)) == {"parcel_weight_g", "priority", "window_end"}
    assert set(problems(5)) == {
        "latitude",
        "window_start",
        "parcel_height_mm",
        "required_skills",
        "column P",
    }
    assert problems(7) == {"window_start": "Error"}
    assert problems(8) == {"parcel_weight_g": "Error"}
    assert problems(9) == {"address": "Warning"}
    assert problems(10) == {"window_end": "Warning"}
    assert "spans two days" in page.locator('tbody[data-row="10"] td').nth(1).inner_text()
    assert page.inner_text("#warning-order-count") == "3"

    # when: the dispatcher imports without ticking the box
    page.click("input[name=confirm]")

    # then: nothing is written and the preview is still there to confirm
    assert "Nothing was imported" in page.locator(".messagelist .error").inner_text()
    assert not Order.objects.exists()

    # when: the warnings are checked and confirmed
    page.check("#accept-warnings")
    page.click("input[name=confirm]")

    # then: the good orders and those with warnings are written
    assert "6 order(s) imported" in page.locator(".messagelist .success").inner_text()
    assert page.inner_text("#created-order-count") == "6"
    assert Order.objects.filter(hub=hub).count() == 6
    assert Order.objects.filter(external_reference="KX-1008").exists()  # the Munich one
    assert not Order.objects.filter(external_reference="KX-1006").exists()  # 2025
