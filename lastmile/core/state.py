"""The one way every state machine in the product checks a move.

Each model keeps its ``Status`` choices and a module-level ``TRANSITIONS`` table
(``{from_state: {to_state, ...}}``); transition services call :func:`check_transition`
before they write, so an illegal move raises instead of silently passing.
"""

from collections.abc import Mapping, Set

from lastmile.core.errors import InvalidTransition

Transitions = Mapping[str, Set[str]]


def is_allowed(table: Transitions, *, current: str, target: str) -> bool:
    return target in table.get(current, frozenset())


def check_transition(table: Transitions, *, entity: str, current: str, target: str) -> bool:
    """Return ``False`` when ``target`` is the current state (a no-op), ``True`` when the move
    is allowed, and raise :class:`InvalidTransition` otherwise."""
    if current == target:
        return False
    if not is_allowed(table, current=current, target=target):
        raise InvalidTransition(entity=entity, current=current, target=target)
    return True


def validate_table(table: Transitions, states: Set[str]) -> None:
    """Fail loudly at import time if a table names a state its model does not have."""
    for source, targets in table.items():
        unknown = ({source} | set(targets)) - set(states)
        if unknown:
            raise ValueError(f"transition table names unknown states: {sorted(unknown)}")
