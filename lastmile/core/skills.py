"""Skills that an order can require and that vehicles and couriers offer.

One list for the whole product, so the planner matches them by plain equality.
"""

from django.db import models

from lastmile.core.errors import ErrorCode


class Skill(models.TextChoices):
    COLD_CHAIN = "cold_chain", "Cold chain"  # chilled box on the vehicle
    AGE_CHECK = "age_check", "Age check"  # courier trained to verify ID at the door
    TWO_PERSON = "two_person", "Two-person delivery"  # bulky item, crew of two
    TAIL_LIFT = "tail_lift", "Tail lift"  # vehicle with a lift for heavy goods
    HAZMAT = "hazmat", "Dangerous goods"  # limited-quantity dangerous goods


def validate_skills(value: object) -> None:
    from django.core.exceptions import ValidationError

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(
            "Skills must be a list of skill codes.", code=ErrorCode.INVALID_SKILLS
        )
    unknown = sorted(set(value) - set(Skill.values))
    if unknown:
        raise ValidationError(
            "Unknown skill(s): %(unknown)s. Known: %(known)s.",
            code=ErrorCode.UNKNOWN_SKILL,
            params={"unknown": ", ".join(unknown), "known": ", ".join(Skill.values)},
        )
