"""Files for the bank and for accounting: SEPA credit transfers (pain.001.001.03) and CSV.

Pure builders: dataclasses in, bytes or text out; the payout services decide what goes in.
"""

import datetime as dt
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from lastmile.core.csv_export import csv_text

PAIN_001_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# The Latin character set every SEPA bank accepts (EPC guidance); others are transliterated.
_SEPA_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
_TRANSLITERATE = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "&": "+"}
)


def sepa_text(value: str, max_length: int) -> str:
    """``value`` in the SEPA character set (umlauts spelled out, accents dropped), trimmed."""
    text = unicodedata.normalize("NFKD", value.translate(_TRANSLITERATE))
    text = "".join(ch for ch in text if ch in _SEPA_ALLOWED)
    return " ".join(text.split())[:max_length] or "-"


def _amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@dataclass(frozen=True)
class Debtor:
    name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    amount_minor: int
    currency: str
    creditor_name: str
    creditor_iban: str
    creditor_bic: str
    remittance: str


def build_pain001(
    *,
    message_id: str,
    created_at: dt.datetime,
    execution_date: dt.date,
    debtor: Debtor,
    transfers: Sequence[Transfer],
    initiating_party: str | None = None,
) -> bytes:
    """A SEPA credit transfer initiation: one payment (the debtor account), one transaction
    per transfer, with the number of transactions and the control sum in both headers."""
    if not transfers:
        raise ValueError("a credit transfer file needs at least one transfer")
    ET.register_namespace("", PAIN_001_NS)
    ET.register_namespace("xsi", XSI_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{PAIN_001_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    count = str(len(transfers))
    control_sum = _amount(sum(t.amount_minor for t in transfers))
    document = ET.Element(f"{{{PAIN_001_NS}}}Document")
    root = el(document, "CstmrCdtTrfInitn")

    header = el(root, "GrpHdr")
    el(header, "MsgId", message_id)
    el(header, "CreDtTm", created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    el(header, "NbOfTxs", count)
    el(header, "CtrlSum", control_sum)
    el(el(header, "InitgPty"), "Nm", sepa_text(initiating_party or debtor.name, 70))

    payment = el(root, "PmtInf")
    el(payment, "PmtInfId", message_id)
    el(payment, "PmtMtd", "TRF")
    el(payment, "BtchBookg", "true")
    el(payment, "NbOfTxs", count)
    el(payment, "CtrlSum", control_sum)
    el(el(el(payment, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    el(payment, "ReqdExctnDt", execution_date.isoformat())
    el(el(payment, "Dbtr"), "Nm", sepa_text(debtor.name, 70))
    el(el(el(payment, "DbtrAcct"), "Id"), "IBAN", debtor.iban)
    el(el(el(payment, "DbtrAgt"), "FinInstnId"), "BIC", debtor.bic)
    el(payment, "ChrgBr", "SLEV")
    for transfer in transfers:
        tx = el(payment, "CdtTrfTxInf")
        el(el(tx, "PmtId"), "EndToEndId", transfer.end_to_end_id)
        el(el(tx, "Amt"), "InstdAmt", _amount(transfer.amount_minor), Ccy=transfer.currency)
        if transfer.creditor_bic:
            el(el(el(tx, "CdtrAgt"), "FinInstnId"), "BIC", transfer.creditor_bic)
        el(el(tx, "Cdtr"), "Nm", sepa_text(transfer.creditor_name, 70))
        el(el(el(tx, "CdtrAcct"), "Id"), "IBAN", transfer.creditor_iban)
        el(el(tx, "RmtInf"), "Ustrd", sepa_text(transfer.remittance, 140))
    ET.indent(document)
    return ET.tostring(document, encoding="UTF-8", xml_declaration=True)


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "batch",
    "week_start",
    "courier",
    "courier_email",
    "iban",
    "status",
    "end_to_end_id",
    "entry",
    "earned_at",
    "kind",
    "source_type",
    "source_id",
    "description",
    "amount",
    "currency",
]


def payout_csv(rows: Iterable[dict[str, object]]) -> str:
    """One line per ledger entry of the batches, with the batch's columns repeated.

    Amounts are plain decimals (``12.50``, ``-3.00``); the IBAN is masked here: the bank file
    is the only place it appears in full. Written by ``core.csv_export.csv_text``: names,
    reasons and descriptions cannot run as spreadsheet formulas.
    """
    return csv_text(
        CSV_COLUMNS,
        (
            [
                *(row[name] for name in CSV_COLUMNS[:-2]),
                Decimal(int(row["amount_minor"])).scaleb(-2),
                row["currency"],
            ]
            for row in rows
        ),
    )
