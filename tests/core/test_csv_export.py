"""The one CSV writer of the project: no cell of a generated file runs as a formula."""

import csv
import io
from decimal import Decimal

import pytest

from lastmile.core.csv_export import csv_safe_cell, csv_text


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+49 30 1234", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "\0=1", "  =1+1"],
)
def test_text_a_spreadsheet_would_evaluate_is_prefixed_with_a_quote(text):
    assert csv_safe_cell(text) == "'" + text


def test_plain_text_empty_cells_and_computed_numbers_are_left_as_they_are():
    assert csv_safe_cell("Ada Lovelace") == "Ada Lovelace"
    assert csv_safe_cell(None) == ""
    assert csv_safe_cell(Decimal("-3.00")) == Decimal("-3.00")
    assert csv_safe_cell(-7) == -7


def test_a_document_has_the_header_then_one_safe_line_per_row():
    text = csv_text(["name", "amount"], [["=1+1", Decimal("-3.00")], ["Ada, Jr.", 5]])

    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "amount"],
        ["'=1+1", "-3.00"],
        ["Ada, Jr.", "5"],
    ]
