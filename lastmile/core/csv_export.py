"""CSV files we generate for people to open in a spreadsheet, written so no cell runs as a formula.

Every CSV download of the project is written by :func:`csv_text`: text from users (names,
reasons, descriptions) must never reach a spreadsheet as a formula (CSV injection).
"""

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

# A spreadsheet reads a cell starting with one of these as a formula: OWASP's CSV injection
# list, and ASVS 1.2.10's NUL.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_safe_cell(value: object) -> object:
    """``value`` as a cell no spreadsheet evaluates.

    Text starting with ``= + - @``, a tab, a carriage return or NUL, after any spaces, gets a
    leading single quote, so it is shown as the text it is; numbers we computed (``int``, ``Decimal``, ``float``) stay
    numbers, a negative amount is not a formula. ``None`` is an empty cell.
    """
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_PREFIXES) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (comma-separated, quoted where needed): the header, then one line per
    row, every cell through ``csv_safe_cell``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([csv_safe_cell(value) for value in row])
    return out.getvalue()
