"""Bank account numbers: IBAN and BIC validated (checksum, country format) with schwifty."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from workforce.errors import WorkforceErrorCode

# SEPA credit transfers reach accounts in these countries (EEA and the SEPA members outside it).
SEPA_COUNTRIES = frozenset(
    [
        "AD",
        "AT",
        "BE",
        "BG",
        "CH",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GB",
        "GI",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MC",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "SM",
        "VA",
    ]
)


@dataclass(frozen=True)
class CheckedIban:
    compact: str  # e.g. DE89370400440532013000
    country: str
    last4: str


def check_iban(raw: str) -> CheckedIban:
    """A valid SEPA IBAN from what a person typed (spaces, lower case), or ``ValidationError``.

    The error message never repeats the number, so it can be logged or shown safely.
    """
    try:
        iban = IBAN(raw or "")
    except SchwiftyException:
        raise ValidationError(
            "This is not a valid IBAN; check the digits.", code=WorkforceErrorCode.INVALID_IBAN
        ) from None
    if iban.country_code not in SEPA_COUNTRIES:
        raise ValidationError(
            "Payouts go by SEPA transfer: use an account in a SEPA country.",
            code=WorkforceErrorCode.IBAN_NOT_SEPA,
        )
    return CheckedIban(compact=iban.compact, country=iban.country_code, last4=iban.compact[-4:])


def check_bic(raw: str) -> str:
    """A valid BIC (8 or 11 characters) or ``""`` for blank; ``ValidationError`` otherwise."""
    text = (raw or "").replace(" ", "").upper()
    if not text:
        return ""
    try:
        return str(BIC(text))
    except SchwiftyException:
        raise ValidationError(
            "This is not a valid BIC.", code=WorkforceErrorCode.INVALID_BIC
        ) from None
