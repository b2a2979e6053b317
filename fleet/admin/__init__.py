"""The fleet's back-office screens (registered on import)."""

from fleet.admin import charging, vehicles

__all__ = ["charging", "vehicles"]
