"""Order file import: preview reports bad cells, confirm writes the rest once."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone
from openpyxl import Workbook

from lastmile.core.errors import ValidationFailed
from lastmile.orders import services
from lastmile.orders.importing import REQUIRED_COLUMNS
from lastmile.orders.models import Order, OrderImport, Parcel
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = [
    *REQUIRED_COLUMNS,
    "recipient_phone",
    "priority",
    "required_skills",
    "cod_amount",
    "cod_currency",
]
DAY = (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def good_row(n: int) -> dict[str, str]:
    return {
        "external_reference": f"KKH-{n:05d}",
        "recipient_name": f"Customer {n}",
        "address": f"Oranienstraße {n % 180 + 1}, 10999 Berlin",
        "latitude": f"{52.49 + (n % 100) / 10000:.6f}",
        "longitude": f"{13.40 + (n % 100) / 10000:.6f}",
        "window_start": f"{DAY} 10:00",
        "window_end": f"{DAY} 12:00",
        "parcel_barcode": f"KKH-{n:05d}-1",
        "parcel_weight_g": "1200",
        "parcel_length_mm": "300",
        "parcel_width_mm": "200",
        "parcel_height_mm": "100",
        "recipient_phone": "+4915112345678",
        "priority": "normal",
        "required_skills": "",
        "cod_amount": "",
        "cod_currency": "",
    }


# (row index among data rows, column, bad value): one bad cell each.
BAD_CELLS = [
    (10, "latitude", "95.5"),
    (100, "window_end", "tomorrow-ish"),
    (250, "recipient_phone", "12345"),
    (400, "parcel_weight_g", "heavy"),
    (555, "recipient_name", ""),
    (777, "required_skills", "teleport"),
    (999, "cod_amount", "12.345"),
]


def csv_bytes(rows: list[dict[str, str]], header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def thousand_rows_with_seven_bad() -> bytes:
    rows = [good_row(n) for n in range(1000)]
    for index, column, value in BAD_CELLS:
        rows[index][column] = value
    return csv_bytes(rows)


@pytest.fixture
def partner_hub():
    return PartnerFactory(slug="kiezkaufhaus"), HubFactory(code="BER-KX")


def preview(partner, hub, content: bytes, name="orders.csv"):
    return services.order_import_preview(
        partner=partner, hub=hub, upload=SimpleUploadedFile(name, content)
    )


def test_preview_reports_exactly_the_bad_rows_and_writes_nothing(partner_hub):
    partner, hub = partner_hub

    order_import, parsed = preview(partner, hub, thousand_rows_with_seven_bad())

    # Spreadsheet row numbers: the header is row 1, data row i is row i + 2.
    assert [(e.row, e.column) for e in parsed.errors] == [(i + 2, c) for i, c, _ in BAD_CELLS]
    assert order_import.row_count == 1000
    assert order_import.error_row_count == 7
    assert order_import.new_order_count == 993
    assert not Order.objects.exists()


def test_confirm_writes_the_valid_rows_and_reimporting_writes_none(partner_hub):
    partner, hub = partner_hub
    content = thousand_rows_with_seven_bad()
    order_import, _ = preview(partner, hub, content)

    confirmed = services.order_import_confirm(order_import=order_import)
    again = services.order_import_confirm(order_import=confirmed)
    second_import, _ = preview(partner, hub, content)
    second = services.order_import_confirm(order_import=second_import)

    assert confirmed.created_order_count == 993
    assert again.created_order_count == 993  # confirming twice is a no-op
    assert second.created_order_count == 0
    assert second.existing_order_count == 993
    assert Order.objects.count() == 993
    assert Parcel.objects.count() == 993
    assert not Order.objects.filter(external_reference="KKH-00010").exists()


def test_an_archived_hub_is_refused_at_preview_and_at_confirmation(partner_hub):
    from lastmile.hubs.services import hub_archive

    # given: a preview for the hub, then the hub archived
    partner, hub = partner_hub
    content = csv_bytes([good_row(n) for n in range(3)])
    order_import, _ = preview(partner, hub, content)
    hub = hub_archive(hub=hub)

    # when: the preview is confirmed, and the file previewed again for the archived hub
    with pytest.raises(ValidationFailed) as confirm_refused:
        services.order_import_confirm(order_import=order_import)
    with pytest.raises(ValidationFailed) as preview_refused:
        preview(partner, hub, content)

    # then: both name the hub, and nothing was written
    for refused in (confirm_refused, preview_refused):
        assert refused.value.code == "import_target_inactive"
        assert list(refused.value.errors) == ["hub"]
    assert not Order.objects.exists()
    assert OrderImport.objects.count() == 1


def test_rows_with_one_reference_make_one_order_with_several_parcels(partner_hub):
    partner, hub = partner_hub
    rows = [
        good_row(1),
        {**good_row(1), "parcel_barcode": "KKH-00001-2", "parcel_weight_g": "800"},
        good_row(2),
    ]

    order_import, parsed = preview(partner, hub, csv_bytes(rows))
    services.order_import_confirm(order_import=order_import)

    assert parsed.errors == []
    assert Order.objects.get(external_reference="KKH-00001").parcels.count() == 2
    assert Order.objects.count() == 2


def test_an_order_with_one_bad_row_is_held_back_whole(partner_hub):
    partner, hub = partner_hub
    rows = [good_row(1), {**good_row(1), "parcel_barcode": "KKH-00001-2", "parcel_weight_g": "-5"}]

    order_import, parsed = preview(partner, hub, csv_bytes(rows))

    assert {(e.row, e.column) for e in parsed.errors} == {
        (3, "parcel_weight_g"),
        (2, "external_reference"),
    }
    assert order_import.new_order_count == 0


def test_rows_disagreeing_on_order_details_are_reported(partner_hub):
    partner, hub = partner_hub
    rows = [good_row(1), {**good_row(1), "parcel_barcode": "KKH-00001-2", "address": "Elsewhere 1"}]

    _, parsed = preview(partner, hub, csv_bytes(rows))

    assert (3, "address") in {(e.row, e.column) for e in parsed.errors}


def test_duplicate_barcodes_and_barcodes_of_other_orders_are_reported(partner_hub):
    partner, hub = partner_hub
    OrderFactory(external_reference="OTHER", parcels=0).parcels.create(
        barcode="TAKEN-1", weight_g=1, length_mm=1, width_mm=1, height_mm=1
    )
    rows = [
        good_row(1),
        {**good_row(2), "parcel_barcode": "KKH-00001-1"},
        {**good_row(3), "parcel_barcode": "TAKEN-1"},
    ]

    _, parsed = preview(partner, hub, csv_bytes(rows))

    assert [(e.row, e.column) for e in parsed.errors] == [
        (3, "parcel_barcode"),
        (4, "parcel_barcode"),
    ]


def test_local_times_are_the_hubs_and_offsets_are_kept(partner_hub):
    partner, hub = partner_hub
    rows = [
        good_row(1),
        {
            **good_row(2),
            "window_start": f"{DAY}T10:00:00+00:00",
            "window_end": f"{DAY}T12:00:00+00:00",
        },
    ]

    services.order_import_confirm(order_import=preview(partner, hub, csv_bytes(rows))[0])

    local = Order.objects.get(external_reference="KKH-00001")
    utc = Order.objects.get(external_reference="KKH-00002")
    assert timezone.localtime(local.window_start, hub.zone).hour == 10
    assert utc.window_start.astimezone(dt.UTC).hour == 10


def test_xlsx_files_are_read_like_csv(partner_hub):
    partner, hub = partner_hub
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for n in range(5):
        row = good_row(n)
        row["window_start"] = dt.datetime.fromisoformat(f"{DAY} 14:00")
        row["window_end"] = dt.datetime.fromisoformat(f"{DAY} 16:00")
        row["parcel_weight_g"] = 1500
        sheet.append([row[column] for column in HEADER])
    buffer = io.BytesIO()
    workbook.save(buffer)

    order_import, parsed = preview(partner, hub, buffer.getvalue(), name="orders.xlsx")
    services.order_import_confirm(order_import=order_import)

    assert parsed.errors == []
    order = Order.objects.get(external_reference="KKH-00000")
    assert timezone.localtime(order.window_start, hub.zone).hour == 14
    assert order.parcels.get().weight_g == 1500


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"external_reference,recipient_name\nX,Y\n", "orders.csv", "Missing column(s)"),
        (b"", "orders.csv", "empty"),
        (b"\xff\xfe\x00bad", "orders.csv", "UTF-8"),
        (b"PK\x03\x04 not really a workbook", "orders.xlsx", "XLSX"),
        (b"a,b\n", "orders.txt", ".csv or .xlsx"),
    ],
)
def test_unreadable_files_are_refused_with_a_message(partner_hub, content, name, message):
    partner, hub = partner_hub

    with pytest.raises(ValidationFailed) as excinfo:
        preview(partner, hub, content, name=name)

    assert message in excinfo.value.errors["file"][0]
    assert not OrderImport.objects.exists()


@pytest.mark.usefixtures("partner_hub")
def test_command_reports_bad_rows_and_imports_the_rest(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(thousand_rows_with_seven_bad())

    call_command(
        "import_orders", str(path), "--partner", "kiezkaufhaus", "--hub", "BER-KX", "--dry-run"
    )
    dry = capsys.readouterr()
    call_command("import_orders", str(path), "--partner", "kiezkaufhaus", "--hub", "BER-KX")
    real = capsys.readouterr()

    assert "row 12, column latitude: Must be between -90 and 90." in dry.err
    assert "Dry run: nothing written." in dry.out
    assert "Imported 993 orders." in real.out
    assert Order.objects.count() == 993


@pytest.mark.usefixtures("partner_hub")
def test_command_names_an_unknown_partner(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes([good_row(1)]))

    with pytest.raises(CommandError, match="No active partner with slug 'nobody'"):
        call_command("import_orders", str(path), "--partner", "nobody", "--hub", "BER-KX")


# --- Limits: bombs and floods are refused before they are unpacked or read -------------------

IMPORT_URL = "/admin/orders/order/import/"


@pytest.fixture
def import_client(client):
    from lastmile.accounts.roles import Role
    from tests.factories import StaffFactory

    client.force_login(StaffFactory(role=Role.DISPATCHER))
    return client


def _workbook_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def shared_strings_bomb(unpacked_mb: int = 200) -> bytes:
    """A real XLSX with a shared-strings table holding one string of ``unpacked_mb`` MB of
    "A" (Excel reads the table whole): a few hundred kB on the wire. Written in 1 MB chunks,
    so building it costs little memory."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(_workbook_bytes([HEADER, list(good_row(1).values())])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" />'
                    b"</Types>",
                )
            bomb.writestr(member, data)
        with bomb.open("xl/sharedStrings.xml", "w", force_zip64=True) as strings:
            strings.write(
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
            )
            chunk = b"A" * 1_048_576
            for _ in range(unpacked_mb):
                strings.write(chunk)
            strings.write(b"</t></si></sst>")
    return out.getvalue()


def _post_import(client, content: bytes, name: str):
    import tracemalloc

    partner, hub = PartnerFactory(), HubFactory()
    upload = SimpleUploadedFile(name, content)
    tracemalloc.start()
    try:
        response = client.post(IMPORT_URL, {"partner": partner.pk, "hub": hub.pk, "file": upload})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, peak


def test_an_xlsx_shared_strings_bomb_is_a_form_error_before_it_is_unpacked(import_client):
    # given: 200 kB that unpacks to 200 MB of shared strings
    bomb = shared_strings_bomb()
    assert len(bomb) < 1_000_000

    # when
    response, peak_bytes = _post_import(import_client, bomb, "orders.xlsx")

    # then: refused from the ZIP directory alone; nothing near 200 MB was ever allocated
    assert response.status_code == 200
    assert "unpacks to more than 150 MB" in response.context["form"].errors["file"][0]
    assert peak_bytes < 20 * 1_048_576
    assert not OrderImport.objects.exists()


def test_an_xlsx_packed_far_tighter_than_a_spreadsheet_is_a_form_error(import_client):
    # given: under the size limits, but 20 MB of "A" packed about 1000:1
    bomb = shared_strings_bomb(unpacked_mb=20)

    response, _ = _post_import(import_client, bomb, "orders.xlsx")

    assert response.status_code == 200
    assert "packed suspiciously tightly" in response.context["form"].errors["file"][0]
    assert not OrderImport.objects.exists()


def test_an_xlsx_whose_only_row_sits_at_row_a_million_is_refused_by_the_row_limit(
    import_client,
):
    # given: a tiny sheet that declares 999,998 blank rows between the header and its row
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for column, value in enumerate(good_row(1).values(), start=1):
        sheet.cell(row=1_000_000, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)

    # when
    response, peak_bytes = _post_import(import_client, buffer.getvalue(), "orders.xlsx")

    # then: the blank rows count, so reading stops after the 50,000th
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "At most 50,000 rows per file; split the file."
    ]
    assert peak_bytes < 50 * 1_048_576
    assert not OrderImport.objects.exists()


def test_blank_lines_count_toward_the_row_limit_of_a_csv(import_client):
    # given: a header, 60,000 empty lines, and one good row
    content = csv_bytes([]) + b"\r\n" * 60_000 + csv_bytes([good_row(1)]).split(b"\r\n", 1)[1]

    response, _ = _post_import(import_client, content, "orders.csv")

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "At most 50,000 rows per file; split the file."
    ]
    assert not OrderImport.objects.exists()


def test_a_real_xlsx_within_the_limits_still_previews(import_client):
    # given: an ordinary spreadsheet of 300 orders
    partner, hub = PartnerFactory(), HubFactory()
    content = _workbook_bytes(
        [HEADER, *([str(v) for v in good_row(n).values()] for n in range(300))]
    )
    upload = SimpleUploadedFile("orders.xlsx", content)

    response = import_client.post(
        IMPORT_URL, {"partner": partner.pk, "hub": hub.pk, "file": upload}
    )

    assert response.status_code == 302, response.context["form"].errors
    assert OrderImport.objects.get().row_count == 300


def test_a_csv_cell_over_the_field_limit_is_a_form_error_not_a_crash(import_client):
    # given: one address of 200 kB (the csv module stops at 128 kB per cell)
    row = good_row(1)
    row["address"] = "x" * 200_000
    partner, hub = PartnerFactory(), HubFactory()
    upload = SimpleUploadedFile("orders.csv", csv_bytes([row]))

    # when
    response = import_client.post(
        IMPORT_URL, {"partner": partner.pk, "hub": hub.pk, "file": upload}
    )

    # then
    assert response.status_code == 200
    assert "Row 2 cannot be read" in response.context["form"].errors["file"][0]
    assert not OrderImport.objects.exists()
