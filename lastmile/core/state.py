"""The one way every state machine in the product checks and makes a move.

Each model keeps its ``Status`` choices and a module-level ``TRANSITIONS`` table
(``{from_state: {to_state, ...}}``); transition services go through :func:`transition` (lock,
check, set status and timestamp, write the event), so an illegal move raises instead of
silently passing and no move happens without its event.
"""

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from django.utils import timezone

from lastmile.core.errors import InvalidTransition

Transitions = Mapping[str, Set[str]]
M = TypeVar("M", bound=Model)


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


@dataclass(frozen=True, slots=True)
class Moved(Generic[M]):
    """What :func:`transition` did: the fresh locked row, the state it left, and whether it moved
    (``False``: the row was already in the target state and nothing was written)."""

    row: M
    previous: str
    changed: bool


def transition(
    row: M,
    *,
    table: Transitions,
    entity: str,
    target: str,
    record: Callable[[M, str, datetime], object] | None,
    stamps: Mapping[str, str] | None = None,
    fields: Mapping[str, Any] | None = None,
    queryset: QuerySet[M] | None = None,
    now: datetime | None = None,
    status_field: str = "status",
    lock: bool = True,
) -> Moved[M]:
    """Move ``row`` to ``target``: the one lock → check → set → event sequence of every state
    machine in the product. The caller holds the transaction.

    Locks the row (``queryset``, e.g. with ``select_related``, defaults to the model's
    manager; ``lock=False`` when the caller already holds it and moves ``row`` itself), checks ``table`` (an illegal move raises ``InvalidTransition``; repeating the
    current state is a no-op without an event), sets the status, the timestamp ``stamps``
    names for the target and any extra ``fields``, saves with ``update_fields``, and calls
    ``record(row, previous, now)``, the app's event constructor, in the same transaction.
    """
    if lock:
        source = queryset if queryset is not None else type(row)._default_manager.all()
        locked = source.select_for_update().get(pk=row.pk)
    else:
        locked = row
    previous = getattr(locked, status_field)
    if not check_transition(table, entity=entity, current=previous, target=target):
        return Moved(locked, previous, False)
    now = now or timezone.now()
    setattr(locked, status_field, target)
    changed = [status_field]
    stamp = (stamps or {}).get(target)
    if stamp:
        setattr(locked, stamp, now)
        changed.append(stamp)
    for name, value in (fields or {}).items():
        setattr(locked, name, value)
        changed.append(name)
    if any(f.name == "updated_at" for f in locked._meta.concrete_fields):
        changed.append("updated_at")
    locked.save(update_fields=list(dict.fromkeys(changed)))
    if record is not None:
        record(locked, previous, now)
    return Moved(locked, previous, True)
