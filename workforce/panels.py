"""Cards other apps put on the courier's home page, above workforce's own.

An approved courier's home leads with today's work: their route and its progress, the routes
offered to them. Those belong to dispatch, which sits above workforce and may import it, never
the reverse. So dispatch registers a provider here when it starts (``DispatchConfig.ready``)
and the home page renders whatever the providers return, knowing nothing of routes.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workforce.models import Courier


@dataclass(frozen=True)
class HomePanel:
    """One card: the template that draws it and what it needs."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


PanelProvider = Callable[[Courier], HomePanel | None]

_providers: list[PanelProvider] = []


def home_panel_register(provider: PanelProvider) -> PanelProvider:
    """Add a provider of home-page cards (once, however often an app starts)."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def home_panels(*, courier: Courier) -> list[HomePanel]:
    """The cards for ``courier`` in registration order; a provider with nothing to say
    returns None and draws nothing."""
    return [panel for provider in _providers if (panel := provider(courier)) is not None]
