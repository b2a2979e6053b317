"""The order file of issue 14: bad cells and implausible orders, for the Kreuzberg micro-hub.

``fixtures/implausible_orders.csv`` (and the same rows as ``.xlsx``) is written for delivery
day ``FIXTURE_DAY``; :func:`fixture_file` moves that day (and the next) to the day asked for,
so the good rows stay in the future. The 2025 date and the impossible 30 February stay.
"""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook

from lastmile.hubs.models import Hub
from tests.fleet.factories import CargoBikeTypeFactory, VehicleFactory, VehicleTypeFactory
from tests.hubs.factories import HubFactory

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DAY = dt.date(2026, 12, 7)

# Spreadsheet rows (the header is row 1) and the columns each reports, whatever the levels.
BAD_CELLS = {
    # weight and priority errors and a reversed window, all three
    (4, "parcel_weight_g"),
    (4, "priority"),
    (4, "window_end"),
    # three errors, an unknown skill and an extra cell past the header (column P)
    (5, "latitude"),
    (5, "window_start"),
    (5, "parcel_height_mm"),
    (5, "required_skills"),
    (5, "column P"),
    # a longitude out of range and a phone number too short
    (6, "longitude"),
    (6, "recipient_phone"),
}
# The implausible rows: a delivery date in 2025, a 100-tonne parcel, a Munich address, a window
# over two days and a ten-minute window.
PAST_DATE = (7, "window_start")
HEAVY_PARCEL = (8, "parcel_weight_g")
MUNICH = (9, "address")
TWO_DAYS = (10, "window_end")
TEN_MINUTES = (13, "window_end")
GOOD_REFERENCES = {"KX-1001", "KX-1002", "KX-1010"}
REFERENCE_OF_ROW = {7: "KX-1006", 8: "KX-1007", 9: "KX-1008", 10: "KX-1009", 13: "KX-1011"}


def fixture_file(extension: str, day: dt.date) -> bytes:
    """The fixture with its delivery day moved to ``day``."""
    replacements = {
        FIXTURE_DAY.isoformat(): day.isoformat(),
        (FIXTURE_DAY + dt.timedelta(days=1)).isoformat(): (day + dt.timedelta(days=1)).isoformat(),
    }

    def moved(text: str) -> str:
        for old, new in replacements.items():
            text = text.replace(old, new)
        return text

    path = FIXTURES / f"implausible_orders.{extension}"
    if extension == "csv":
        return moved(path.read_text(encoding="utf-8")).encode()
    workbook = load_workbook(path)
    for row in workbook.active.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.value = moved(cell.value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def kreuzberg_hub() -> Hub:
    """The Berlin Kreuzberg micro-hub with a cargo bike and an e-van (1 t, 11 m³) at home."""
    hub = HubFactory(
        code="BER-KX",
        name="Kreuzberg micro-hub",
        kind=Hub.Kind.MICRO_FULFILLMENT,
        latitude=Decimal("52.498600"),
        longitude=Decimal("13.420900"),
    )
    VehicleFactory(code="KX-CB01", vehicle_type=CargoBikeTypeFactory(), home_hub=hub)
    VehicleFactory(code="KX-EV01", vehicle_type=VehicleTypeFactory(), home_hub=hub)
    return hub
