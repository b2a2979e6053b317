"""Issue 14's order file: every bad cell is reported, implausible orders as the settings say."""

import csv
import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from lastmile.core.errors import ValidationFailed
from lastmile.orders import services
from lastmile.orders.errors import OrderErrorCode
from lastmile.orders.models import Order, OrderImport
from tests.orders.factories import PartnerFactory
from tests.orders.implausible_file import (
    BAD_CELLS,
    FIXTURES,
    GOOD_REFERENCES,
    HEAVY_PARCEL,
    MUNICH,
    PAST_DATE,
    REFERENCE_OF_ROW,
    TEN_MINUTES,
    TWO_DAYS,
    fixture_file,
    kreuzberg_hub,
)

pytestmark = pytest.mark.django_db

TOMORROW = timezone.localdate() + dt.timedelta(days=1)
# The opposite of the defaults, so that each implausible row changes side.
FLIPPED_LEVELS = {
    "past_date": "warning",
    "capacity": "warning",
    "radius": "error",
    "window": "error",
}


@pytest.fixture
def partner_hub():
    return PartnerFactory(slug="kiezkaufhaus"), kreuzberg_hub()


def preview(partner, hub, extension="csv", content=None):
    return services.order_import_preview(
        partner=partner,
        hub=hub,
        upload=SimpleUploadedFile(
            f"orders.{extension}", content or fixture_file(extension, TOMORROW)
        ),
    )


def cells(problems) -> set[tuple[int, str]]:
    return {(problem.row, problem.column) for problem in problems}


def test_the_xlsx_fixture_holds_the_csv_fixtures_rows():
    # The two files must not drift apart: the XLSX test would then prove something else.
    with open(FIXTURES / "implausible_orders.csv", encoding="utf-8") as handle:
        from_csv = [list(row) for row in csv.reader(handle)]
    sheet = load_workbook(FIXTURES / "implausible_orders.xlsx").active
    from_xlsx = [
        ["" if value is None else str(value) for value in row]
        for row in sheet.iter_rows(values_only=True)
    ]

    def normal(rows):
        return [[cell.rstrip("0").rstrip(".") if "." in cell else cell for cell in r] for r in rows]

    assert normal([row + [""] * (16 - len(row)) for row in from_csv]) == normal(
        [row + [""] * (16 - len(row)) for row in from_xlsx]
    )


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_every_bad_cell_and_the_implausible_rows_are_reported_by_default(partner_hub, extension):
    # given: the file of the issue, for the Kreuzberg micro-hub, with the default levels
    partner, hub = partner_hub

    # when: it is previewed
    order_import, parsed = preview(partner, hub, extension)

    # then: every bad cell of every row is an error, and the implausible rows are errors
    # (past date, 100-tonne parcel) or warnings (Munich, two days, ten minutes)
    assert cells(parsed.errors) == BAD_CELLS | {PAST_DATE, HEAVY_PARCEL}
    assert cells(parsed.warnings) == {MUNICH, TWO_DAYS, TEN_MINUTES}
    assert {order.external_reference for order, _ in parsed.new_orders} == GOOD_REFERENCES | {
        "KX-1008",
        "KX-1009",
        "KX-1011",
    }
    assert parsed.warned_references == {"KX-1008", "KX-1009", "KX-1011"}
    assert order_import.error_row_count == 5
    assert order_import.warning_order_count == 3
    assert order_import.new_order_count == 6
    assert not Order.objects.exists()
    messages = {(e["row"], e["column"]): e["message"] for e in order_import.errors}
    assert "2025-12-05 is in the past" in messages[PAST_DATE]
    assert "100,000.0 kg" in messages[HEAVY_PARCEL]
    assert "1,000.0 kg" in messages[HEAVY_PARCEL]  # the e-van, the hub's largest vehicle
    assert "Unknown skill(s): teleport" in messages[(5, "required_skills")]
    warnings = {(w["row"], w["column"]): w["message"] for w in order_import.warnings}
    assert "km from the hub" in warnings[MUNICH]
    assert "spans two days" in warnings[TWO_DAYS]


def test_with_the_levels_turned_round_the_same_rows_change_side(partner_hub, settings):
    # given: past dates and capacity as warnings, radius and windows as errors
    settings.ORDER_CHECK_LEVELS = FLIPPED_LEVELS
    partner, hub = partner_hub

    # when
    order_import, parsed = preview(partner, hub)

    # then: the bad cells are errors still; the implausible rows swapped sides
    assert cells(parsed.errors) == BAD_CELLS | {MUNICH, TWO_DAYS, TEN_MINUTES}
    assert cells(parsed.warnings) == {PAST_DATE, HEAVY_PARCEL}
    assert parsed.warned_references == {"KX-1006", "KX-1007"}
    assert {order.external_reference for order, _ in parsed.new_orders} == GOOD_REFERENCES | {
        "KX-1006",
        "KX-1007",
    }
    assert order_import.error_row_count == 6


def test_a_check_turned_off_reports_nothing(partner_hub, settings):
    settings.ORDER_CHECK_LEVELS = {"radius": "off", "window": "off"}
    partner, hub = partner_hub

    _, parsed = preview(partner, hub)

    assert cells(parsed.warnings) == set()
    assert cells(parsed.errors) == BAD_CELLS | {PAST_DATE, HEAVY_PARCEL}


def test_orders_with_warnings_wait_for_the_dispatchers_confirmation(partner_hub):
    # given: a preview with three orders with warnings
    partner, hub = partner_hub
    order_import, _ = preview(partner, hub)

    # when: it is confirmed without confirming the warnings
    with pytest.raises(ValidationFailed) as refused:
        services.order_import_confirm(order_import=order_import)

    # then: nothing is written and the import can still be confirmed
    assert refused.value.code == OrderErrorCode.WARNINGS_UNCONFIRMED
    assert not Order.objects.exists()
    order_import.refresh_from_db()
    assert order_import.status == OrderImport.Status.PREVIEWED

    # when: confirmed with the warnings checked
    confirmed = services.order_import_confirm(order_import=order_import, accept_warnings=True)

    # then: the good orders and those with warnings are written, the erroneous ones are not
    assert confirmed.created_order_count == 6
    assert set(Order.objects.values_list("external_reference", flat=True)) == (
        GOOD_REFERENCES | {REFERENCE_OF_ROW[row] for row in (9, 10, 13)}
    )
    assert Order.objects.get(external_reference="KX-1010").parcels.count() == 2


def test_a_warning_that_was_not_previewed_holds_its_order_back(partner_hub):
    # given: a preview whose stored warnings lack the Munich row's, as when a warning appears
    # between preview and confirmation (the hub's vehicles or the settings changed)
    partner, hub = partner_hub
    order_import, _ = preview(partner, hub)
    order_import.warnings = [w for w in order_import.warnings if w["row"] != MUNICH[0]]
    order_import.save(update_fields=["warnings"])

    # when: confirmed with the (previewed) warnings checked
    confirmed = services.order_import_confirm(order_import=order_import, accept_warnings=True)

    # then: the Munich order, whose warning nobody saw, is held back and says why
    assert not Order.objects.filter(external_reference="KX-1008").exists()
    assert Order.objects.filter(external_reference="KX-1009").exists()
    assert confirmed.created_order_count == 5
    held = [e for e in confirmed.errors if (e["row"], e["column"]) == MUNICH]
    assert held
    assert "not in the preview you confirmed" in held[0]["message"]


def test_the_checks_cost_no_query_per_row(partner_hub):
    # given: the good rows of the file ten times and forty times over
    partner, hub = partner_hub
    text = fixture_file("csv", TOMORROW).decode()
    header, first_good = text.splitlines()[:2]

    def file_of(count: int) -> bytes:
        lines = [header] + [first_good.replace("KX-1001", f"KX-{n:05d}") for n in range(count)]
        return "\n".join(lines).encode()

    # when: each is parsed
    counts = []
    for count in (10, 40):
        with CaptureQueriesContext(connection) as queries:
            _, parsed = preview(partner, hub, content=file_of(count))
        assert len(parsed.new_orders) == count
        counts.append(len(queries))

    # then: the same number of queries
    assert counts[0] == counts[1]


def test_a_single_order_passes_the_same_checks(partner_hub, settings):
    partner, hub = partner_hub
    berlin = timezone.get_current_timezone()

    def order(reference, **overrides):
        data = {
            "external_reference": reference,
            "recipient_name": "Felix Hoffmann",
            "address": "Marienplatz 1, 80331 München",
            "latitude": Decimal("48.137154"),
            "longitude": Decimal("11.576124"),
            "window_start": dt.datetime.combine(TOMORROW, dt.time(12), tzinfo=berlin),
            "window_end": dt.datetime.combine(TOMORROW, dt.time(14), tzinfo=berlin),
            "parcels": [services.ParcelInput(f"{reference}-1", 700, 200, 150, 100)],
        }
        return services.OrderInput(**{**data, **overrides})

    # when: a Munich order is created without and with confirming the warning
    with pytest.raises(ValidationFailed) as unconfirmed:
        services.order_create(partner=partner, hub=hub, data=order("API-1"), source="api")
    created = services.order_create(
        partner=partner, hub=hub, data=order("API-1"), source="api", accept_warnings=True
    )
    # and: one too far ahead, and a 100-tonne parcel (an error: confirming does not help)
    with pytest.raises(ValidationFailed) as far_ahead:
        services.order_create(
            partner=partner,
            hub=hub,
            data=order(
                "API-2",
                latitude=Decimal("52.5"),
                longitude=Decimal("13.42"),
                window_start=dt.datetime.combine(
                    TOMORROW + dt.timedelta(days=90), dt.time(12), tzinfo=berlin
                ),
                window_end=dt.datetime.combine(
                    TOMORROW + dt.timedelta(days=90), dt.time(14), tzinfo=berlin
                ),
            ),
            source="api",
        )
    with pytest.raises(ValidationFailed) as heavy:
        services.order_create(
            partner=partner,
            hub=hub,
            data=order("API-3", parcels=[services.ParcelInput("API-3-1", 10**8, 1, 1, 1)]),
            source="api",
            accept_warnings=True,
        )

    # then
    assert unconfirmed.value.code == OrderErrorCode.WARNINGS_UNCONFIRMED
    assert list(unconfirmed.value.errors) == ["address"]
    assert created.external_reference == "API-1"
    assert far_ahead.value.code == OrderErrorCode.WARNINGS_UNCONFIRMED
    assert "more than 60 days ahead" in far_ahead.value.errors["window_start"][0]
    assert heavy.value.code == OrderErrorCode.IMPLAUSIBLE_ORDER
    assert heavy.value.errors["parcels"][0].startswith("API-3-1: 100,000.0 kg")


def test_the_preview_page_lists_each_rows_problems_and_asks_to_confirm_the_warnings(
    partner_hub, admin_client
):
    # given: the file previewed in the back-office
    partner, hub = partner_hub
    response = admin_client.post(
        reverse("admin:orders_order_import"),
        {
            "partner": partner.pk,
            "hub": hub.pk,
            "file": SimpleUploadedFile("orders.csv", fixture_file("csv", TOMORROW)),
        },
    )
    preview_url = response["Location"]
    page = admin_client.get(preview_url).content.decode()

    # then: each row's problems, and the confirmation box
    assert 'data-row="5"' in page
    assert 'data-column="column P"' in page
    assert "I checked these warnings" in page
    assert 'id="warning-order-count">3<' in page

    # when: confirmed without the box, then with it
    refused = admin_client.post(preview_url, {"confirm": "1"}, follow=True)
    assert "Nothing was imported" in refused.content.decode()
    assert not Order.objects.exists()
    admin_client.post(preview_url, {"confirm": "1", "accept_warnings": "on"})

    # then
    assert Order.objects.count() == 6
