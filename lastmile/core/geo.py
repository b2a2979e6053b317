"""Plain latitude/longitude, validated the same way on every model that has a position.

No GIS extension: positions are two decimals (WGS84 degrees, 6 places ≈ 0.1 m); distances
and travel times come from the routing engine's matrix providers.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

LATITUDE_RANGE = (Decimal("-90"), Decimal("90"))
LONGITUDE_RANGE = (Decimal("-180"), Decimal("180"))


def latitude_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(LATITUDE_RANGE[0]), MaxValueValidator(LATITUDE_RANGE[1])],
        help_text="WGS84 degrees, -90 to 90",
        **kwargs,
    )


def longitude_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(LONGITUDE_RANGE[0]), MaxValueValidator(LONGITUDE_RANGE[1])],
        help_text="WGS84 degrees, -180 to 180",
        **kwargs,
    )


def coordinate_constraints(prefix: str, *, lat: str = "latitude", lng: str = "longitude") -> list:
    """Database-level range checks, so rows written around the forms are still valid."""
    return [
        models.CheckConstraint(
            condition=models.Q(
                **{f"{lat}__gte": LATITUDE_RANGE[0], f"{lat}__lte": LATITUDE_RANGE[1]}
            ),
            name=f"{prefix}_{lat}_range",
        ),
        models.CheckConstraint(
            condition=models.Q(
                **{f"{lng}__gte": LONGITUDE_RANGE[0], f"{lng}__lte": LONGITUDE_RANGE[1]}
            ),
            name=f"{prefix}_{lng}_range",
        ),
    ]
