"""The workforce manager's back-office screens (registered on import)."""

from workforce.admin import onboarding, pay

__all__ = ["onboarding", "pay"]
