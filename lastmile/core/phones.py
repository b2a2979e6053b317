"""Phone numbers: parsed once, validated once, stored E.164."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from phonenumber_field.phonenumber import PhoneNumber

from lastmile.core.errors import ErrorCode


def parse_phone(raw: str | PhoneNumber | None) -> PhoneNumber | str:
    """A valid ``PhoneNumber`` for ``raw`` (numbers without a country code are read in
    ``PHONENUMBER_DEFAULT_REGION``), ``""`` for blank, or a ``ValidationError``."""
    if isinstance(raw, PhoneNumber):
        number = raw
    else:
        text = (raw or "").strip()
        if not text:
            return ""
        try:
            number = PhoneNumber.from_string(text, region=settings.PHONENUMBER_DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            number = None
    if number is None or not number.is_valid():
        raise ValidationError(
            "'%(raw)s' is not a valid phone number.",
            code=ErrorCode.INVALID_PHONE,
            params={"raw": raw},
        )
    return number
