"""Reading merchants' order files (CSV or XLSX) into validated orders, with per-cell errors.

One row is one parcel; rows sharing an ``external_reference`` are one order. Errors carry the
spreadsheet row number (the header is row 1), the column and a message. Nothing here writes:
:mod:`lastmile.orders.services.imports` decides what to do with the result.
"""

import csv
import datetime as dt
import io
import re
import zipfile
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from lastmile.core.uploads import check_zip_archive
from lastmile.hubs.models import Hub
from lastmile.orders.models import DeliveryOption, Order, Parcel, Priority
from lastmile.orders.plausibility import (
    Level,
    Limits,
    ParcelSize,
    order_plausibility,
    parcel_plausibility,
    plausibility_limits,
)
from lastmile.orders.services.creation import OrderInput, ParcelInput, order_build, parcel_build
from lastmile.partners.models import Partner

REQUIRED_COLUMNS = (
    "external_reference",
    "recipient_name",
    "address",
    "latitude",
    "longitude",
    "window_start",
    "window_end",
    "parcel_barcode",
    "parcel_weight_g",
    "parcel_length_mm",
    "parcel_width_mm",
    "parcel_height_mm",
)
OPTIONAL_COLUMNS = (
    "recipient_phone",
    "recipient_email",
    "access_notes",
    "service_s",
    "priority",
    "required_skills",
    "delivery_option",
    "cod_amount",
    "cod_currency",
)
ORDER_COLUMNS = tuple(c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if not c.startswith("parcel_"))
# Every row counts, blank ones too: a file of a million empty lines is refused, not skipped.
MAX_ROWS = 50_000
# Columns read per row; a sheet claiming 16,384 columns is not padded out to them.
MAX_COLUMNS = 64
# An XLSX is a ZIP: its directory is checked before anything unpacks (a sharedStrings bomb,
# a sheet of a million blank rows). 50,000 real rows unpack to about 60 MB.
XLSX_MAX_MEMBERS = 200
XLSX_MAX_MEMBER_BYTES = 100 * 1024 * 1024
XLSX_MAX_TOTAL_BYTES = 150 * 1024 * 1024
XLSX_MAX_RATIO = 100
MAX_REPORTED_ERRORS = 1_000
DATETIME_FORMATS = ("%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M")
PRIORITY_NAMES = {"normal": Priority.NORMAL, "high": Priority.HIGH, "urgent": Priority.URGENT}
# Model field names that differ from the file's column names.
FIELD_TO_COLUMN = {"cod_amount_minor": "cod_amount", "parcels": "parcel_barcode"}
# The file's columns as the order's fields: a bad cell leaves its field out of the checks.
COLUMN_TO_FIELD = {
    "cod_amount": "cod_amount_minor",
    **dict.fromkeys(
        (
            "parcel_barcode",
            "parcel_weight_g",
            "parcel_length_mm",
            "parcel_width_mm",
            "parcel_height_mm",
        ),
        "parcels",
    ),
}
# Where a parcel's plausibility finding is shown: its weight, or its size (length first).
PARCEL_FINDING_COLUMNS = {"weight_g": "parcel_weight_g", "volume": "parcel_length_mm"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, encoding, header, size)."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ParsedFile:
    row_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    # Implausible values the settings make warnings: their orders wait for a confirmation.
    warnings: list[RowError] = field(default_factory=list)
    warned_references: set[str] = field(default_factory=set)
    warned_rows: dict[int, str] = field(default_factory=dict)  # row number -> its reference
    # Valid orders whose reference the partner has not used yet, ready to write.
    new_orders: list[tuple[Order, list[Parcel]]] = field(default_factory=list)
    existing_references: list[str] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return len({error.row for error in self.errors})


def _normalise_header(name: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name or "").strip().lower()).strip("_")


def _read_rows(content: bytes, file_name: str) -> Iterator[list[Any]]:
    """Yield the file's rows, blank ones included, and at most ``MAX_ROWS + 1`` after the
    header (enough for the caller to see the file is too long)."""
    if file_name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            check_zip_archive(
                io.BytesIO(content),
                max_members=XLSX_MAX_MEMBERS,
                max_member_bytes=XLSX_MAX_MEMBER_BYTES,
                max_total_bytes=XLSX_MAX_TOTAL_BYTES,
                max_ratio=XLSX_MAX_RATIO,
            )
        except ValidationError as exc:
            raise ImportFileError(exc.messages[0]) from None
        except zipfile.BadZipFile:
            raise ImportFileError(
                _("Not a readable XLSX file (%(reason)s).") % {"reason": "BadZipFile"}
            ) from None
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise ImportFileError(
                _("Not a readable XLSX file (%(reason)s).") % {"reason": exc.__class__.__name__}
            ) from None
        sheet = workbook.worksheets[0]
        # Bounded, because read-only openpyxl pads the gaps a sheet declares: one cell in
        # row 1,048,576 would otherwise yield a million empty rows.
        try:
            for values in sheet.iter_rows(
                max_row=MAX_ROWS + 2, max_col=MAX_COLUMNS, values_only=True
            ):
                yield list(values)
        finally:
            workbook.close()
        return
    if not file_name.lower().endswith(".csv"):
        raise ImportFileError(_("Upload a .csv or .xlsx file."))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(_("CSV files must be UTF-8 encoded.")) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        yield from reader
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 kB field limit
        raise ImportFileError(
            _("Row %(row)s cannot be read: %(reason)s.") % {"row": reader.line_num, "reason": exc}
        ) from None


class _RowParser:
    """Turns one row's cells into typed values, collecting an error per bad cell."""

    def __init__(self, hub: Hub, row_number: int, cells: dict[str, Any]) -> None:
        self.hub = hub
        self.row = row_number
        self.cells = cells
        self.errors: list[RowError] = []
        self.parcel_size = ParcelSize(None, None, None, None)

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.row, column, message))

    def text(self, column: str, *, required: bool = False, max_length: int = 255) -> str:
        value = self.cells.get(column)
        text = "" if value is None else str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))  # spreadsheets turn reference numbers into floats
        if required and not text:
            self.error(column, _("This column is required."))
        elif len(text) > max_length:
            self.error(column, _("At most %(count)s characters.") % {"count": max_length})
        return text

    def integer(self, column: str, *, default: int | None = None, minimum: int = 0) -> int | None:
        raw = self.text(column, required=default is None)
        if not raw:
            return default
        try:
            value = int(Decimal(raw))
        except (InvalidOperation, ValueError):
            self.error(column, _("'%(value)s' is not a whole number.") % {"value": raw})
            return default
        if value < minimum:
            self.error(column, _("Must be at least %(minimum)s.") % {"minimum": minimum})
        return value

    def coordinate(self, column: str, limit: int) -> Decimal | None:
        raw = self.text(column, required=True).replace(",", ".")
        if not raw:
            return None
        try:
            value = Decimal(raw).quantize(Decimal("0.000001"))
        except InvalidOperation:
            self.error(column, _("'%(value)s' is not a number.") % {"value": raw})
            return None
        if not -limit <= value <= limit:
            self.error(column, _("Must be between -%(limit)s and %(limit)s.") % {"limit": limit})
            return None
        return value

    def moment(self, column: str) -> dt.datetime | None:
        value = self.cells.get(column)
        if isinstance(value, dt.datetime):
            moment = value
        else:
            raw = self.text(column, required=True)
            if not raw:
                return None
            moment = None
            try:
                moment = dt.datetime.fromisoformat(raw)
            except ValueError:
                for pattern in DATETIME_FORMATS:
                    try:
                        moment = dt.datetime.strptime(raw, pattern)  # noqa: DTZ007 - made aware below
                        break
                    except ValueError:
                        continue
            if moment is None:
                self.error(
                    column,
                    _("'%(value)s' is not a date and time (use 2026-11-25 09:00).")
                    % {"value": raw},
                )
                return None
        if timezone.is_naive(moment):
            # Local times in the file are the hub's local times.
            moment = moment.replace(tzinfo=self.hub.zone)
        return moment

    def priority(self, column: str) -> int:
        raw = self.text(column).lower()
        if not raw:
            return Priority.NORMAL
        if raw in PRIORITY_NAMES:
            return PRIORITY_NAMES[raw]
        if raw.isdigit() and int(raw) in Priority.values:
            return int(raw)
        self.error(column, _("Use normal, high or urgent."))
        return Priority.NORMAL

    def choice(self, column: str, choices: list[str], default: str) -> str:
        raw = self.text(column).lower()
        if not raw:
            return default
        if raw not in choices:
            self.error(column, _("Use one of: %(choices)s.") % {"choices": ", ".join(choices)})
            return default
        return raw

    def money_minor(self, column: str) -> int | None:
        raw = self.text(column).replace(",", ".")
        if not raw:
            return None
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            self.error(column, _("'%(value)s' is not an amount.") % {"value": raw})
            return None
        if amount < 0 or amount != amount.quantize(Decimal("0.01")):
            self.error(column, _("Use a positive amount with at most two decimals, e.g. 12.50."))
            return None
        return int(amount * 100)

    def order_fields(self) -> dict[str, Any]:
        skills_raw = self.text("required_skills")
        return {
            "external_reference": self.text("external_reference", required=True, max_length=64),
            "recipient_name": self.text("recipient_name", required=True, max_length=120),
            "recipient_phone": self.text("recipient_phone", max_length=32),
            "recipient_email": self.text("recipient_email", max_length=254),
            "address": self.text("address", required=True),
            "latitude": self.coordinate("latitude", 90),
            "longitude": self.coordinate("longitude", 180),
            "access_notes": self.text("access_notes", max_length=2000),
            "window_start": self.moment("window_start"),
            "window_end": self.moment("window_end"),
            "service_s": self.integer("service_s", default=180),
            "priority": self.priority("priority"),
            "required_skills": tuple(
                s.strip() for s in re.split(r"[;,|]", skills_raw) if s.strip()
            ),
            "delivery_option": self.choice(
                "delivery_option", DeliveryOption.values, DeliveryOption.DOOR
            ),
            "cod_amount_minor": self.money_minor("cod_amount"),
            "cod_currency": self.text("cod_currency", max_length=3).upper(),
        }

    def parcel(self) -> ParcelInput | None:
        barcode = self.text("parcel_barcode", required=True, max_length=64)
        sizes = [
            self.integer(c, minimum=1)
            for c in ("parcel_weight_g", "parcel_length_mm", "parcel_width_mm", "parcel_height_mm")
        ]
        self.parcel_size = ParcelSize(*sizes)
        if not barcode or any(size is None for size in sizes):
            return None
        return ParcelInput(barcode, *sizes)


def _chunks(values: list[str], size: int = 5_000) -> Iterator[list[str]]:
    # Databases cap the parameters of one query (SQLite at 32,766).
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class _Order:
    """What the rows of one reference have given so far."""

    first_row: int
    fields: dict[str, Any]
    # The order built from its first row (``None`` if that row had errors), and what its
    # order-level checks found, repeated on each further row with the same fields.
    order: Order | None
    order_problems: list[tuple[str, str, str]]
    parcels: list[tuple[int, Parcel]] = field(default_factory=list)


def _column(name: str) -> str:
    return FIELD_TO_COLUMN.get(name, name)


def _spreadsheet_column(position: int) -> str:
    """A 0-based position as spreadsheets name it (0 → A, 26 → AA)."""
    name = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name


def parse_order_file(
    *, content: bytes, file_name: str, partner: Partner, hub: Hub, now: dt.datetime | None = None
) -> ParsedFile:
    """Read, type-check and validate every row; report each bad cell; build the good orders.

    Every row is checked whole: its unreadable cells, cells past the header, the order's
    rules (a reversed window, an unknown skill…) and the hub's plausibility checks, each as
    an error or a warning as the settings say. The hub's limits are read once, never per row.
    """
    rows = _read_rows(content, file_name)
    try:
        header = [_normalise_header(cell) for cell in next(rows)]
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ImportFileError(
            _("Missing column(s): %(columns)s.") % {"columns": ", ".join(missing)}
        )
    unnamed = {position for position, name in enumerate(header) if not name}
    limits = plausibility_limits(hub=hub, now=now)

    parsed = ParsedFile()
    groups: OrderedDict[str, _Order] = OrderedDict()
    bad_references: dict[str, int] = {}
    barcode_rows: dict[str, int] = {}
    for index, values in enumerate(rows, start=2):
        if index - 1 > MAX_ROWS:  # blank rows count too: reading them costs the same
            raise ImportFileError(
                _("At most %(count)s rows per file; split the file.") % {"count": f"{MAX_ROWS:,}"}
            )
        if all(value is None or str(value).strip() == "" for value in values):
            continue  # blank lines at the end of spreadsheets
        parsed.row_count += 1
        row = _RowParser(hub, index, dict(zip(header, values, strict=False)))
        for position, value in enumerate(values):
            if (position >= len(header) or position in unnamed) and str(
                value if value is not None else ""
            ).strip():
                row.error(
                    _("column %(column)s") % {"column": _spreadsheet_column(position)},
                    _("A value outside the header's columns: is a cell shifted or extra?"),
                )
        fields = row.order_fields()
        parcel = row.parcel()
        reference = fields["external_reference"]
        if parcel and parcel.barcode in barcode_rows:
            row.error(
                "parcel_barcode",
                _("Barcode %(barcode)s is already in row %(row)s.")
                % {"barcode": parcel.barcode, "row": barcode_rows[parcel.barcode]},
            )
        elif parcel:
            barcode_rows[parcel.barcode] = index
        group = groups.get(reference) if reference else None
        if group is not None and not row.errors:
            for column, value in fields.items():
                if value != group.fields[column]:
                    row.error(
                        column,
                        _("Differs from row %(row)s of the same order %(reference)s.")
                        % {"row": group.first_row, "reference": reference},
                    )
                    break
        unreadable = {COLUMN_TO_FIELD.get(error.column, error.column) for error in row.errors}
        built_parcel: Parcel | None = None
        if group is not None and fields == group.fields:
            # The same order again: its order-level findings are the first row's.
            order_problems = group.order_problems
            if parcel is not None and "parcels" not in unreadable:
                try:
                    built_parcel = parcel_build(order=group.order, data=parcel)
                except ValidationError as exc:
                    for message in exc.message_dict["parcels"]:
                        row.error("parcel_barcode", message)
        else:
            built, order_problems = _order_check(
                partner=partner,
                hub=hub,
                limits=limits,
                fields=fields,
                parcel=None if "parcels" in unreadable else parcel,
                unreadable=unreadable | ({"parcels"} if parcel is None else set()),
            )
            if built is not None and parcel is not None:
                built_parcel = built[1][0]
            if group is None and reference:
                group = groups[reference] = _Order(
                    index, fields, built[0] if built else None, order_problems
                )
        parcel_problems = [
            (PARCEL_FINDING_COLUMNS[finding.field], finding.message, finding.level)
            for finding in parcel_plausibility(limits=limits, parcel=row.parcel_size)
        ]
        for column, message, level in order_problems + parcel_problems:
            if level == Level.ERROR:
                row.error(column, message)
                continue
            parsed.warnings.append(RowError(index, column, message))
            if reference:
                parsed.warned_references.add(reference)
                parsed.warned_rows[index] = reference
        parsed.errors.extend(row.errors)
        if not reference or group is None:
            continue
        if row.errors:
            bad_references.setdefault(reference, index)
        elif built_parcel is not None:
            group.parcels.append((index, built_parcel))

    existing = set()
    for chunk in _chunks(list(groups)):
        existing.update(
            Order.objects.filter(partner=partner, external_reference__in=chunk).values_list(
                "external_reference", flat=True
            )
        )
    taken = set()
    for chunk in _chunks(list(barcode_rows)):
        owners = Parcel.objects.filter(barcode__in=chunk).values_list(
            "barcode", "order__partner_id", "order__external_reference"
        )
        # A barcode of this partner's already imported order is a re-import, not a clash.
        taken.update(
            code
            for code, owner, reference in owners
            if owner != partner.pk or reference not in existing
        )
    for reference, group in groups.items():
        if reference in existing:
            parsed.existing_references.append(reference)
            continue
        if reference in bad_references or group.order is None:
            # The order is written whole or not at all: its good rows are held back too.
            for number, _parcel in group.parcels:
                parsed.errors.append(
                    RowError(
                        number,
                        "external_reference",
                        _("Not imported: row %(row)s of order %(reference)s has errors.")
                        % {
                            "row": bad_references.get(reference, group.first_row),
                            "reference": reference,
                        },
                    )
                )
            continue
        clashes = [(number, p.barcode) for number, p in group.parcels if p.barcode in taken]
        if clashes:
            parsed.errors.extend(
                RowError(
                    number,
                    "parcel_barcode",
                    _("Barcode %(barcode)s belongs to another order.") % {"barcode": code},
                )
                for number, code in clashes
            )
            continue
        parsed.new_orders.append((group.order, [p for _number, p in group.parcels]))
    parsed.errors.sort(key=lambda e: (e.row, e.column))
    parsed.warnings.sort(key=lambda e: (e.row, e.column))
    parsed.warned_references &= {order.external_reference for order, _parcels in parsed.new_orders}
    return parsed


def _order_check(
    *,
    partner: Partner,
    hub: Hub,
    limits: Limits,
    fields: dict[str, Any],
    parcel: ParcelInput | None,
    unreadable: set[str],
) -> tuple[tuple[Order, list[Parcel]] | None, list[tuple[str, str, str]]]:
    """Build one row's order and check it with the order's rules and the hub's plausibility.

    Returns the built order (``None`` when a rule refused it or a cell was unreadable) and its
    problems as ``(column, message, level)``: rule violations are errors; plausibility
    findings are errors or warnings as the settings say.
    """
    problems: list[tuple[str, str, str]] = []
    built = None
    try:
        built = order_build(
            partner=partner,
            hub=hub,
            data=OrderInput(**fields, parcels=[] if parcel is None else [parcel]),
            unreadable=unreadable,
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            problems.extend((_column(name), message, Level.ERROR) for message in messages)
    if unreadable:
        built = None
    problems.extend(
        (finding.field, finding.message, finding.level)
        for finding in order_plausibility(
            limits=limits,
            latitude=None if unreadable & {"latitude", "longitude"} else fields["latitude"],
            longitude=None if unreadable & {"latitude", "longitude"} else fields["longitude"],
            window_start=None if "window_start" in unreadable else fields["window_start"],
            window_end=None if "window_end" in unreadable else fields["window_end"],
        )
    )
    return built, problems


@dataclass(frozen=True)
class RowProblem:
    column: str
    message: str
    level: str  # Level.ERROR or Level.WARNING


def import_problems_by_row(
    *, errors: list[dict[str, Any]], warnings: list[dict[str, Any]]
) -> list[tuple[int, list[RowProblem]]]:
    """A stored import's errors and warnings per row, rows in file order, errors first."""
    grouped: dict[int, list[RowProblem]] = defaultdict(list)
    for level, problems in ((Level.ERROR, errors), (Level.WARNING, warnings)):
        for problem in problems:
            grouped[problem["row"]].append(
                RowProblem(problem["column"], problem["message"], str(level))
            )
    return sorted(grouped.items())
