"""Which rows refer to a row: the test of "has history" before anything is deleted."""

from collections.abc import Callable, Iterable

from django.db.models import Model, ProtectedError, RestrictedError
from django.utils import timezone

from lastmile.core.errors import HasHistory


def references_to(obj: Model, *, own: Iterable[type[Model]] = ()) -> list[str]:
    """ "N <rows>" for each kind of row that refers to ``obj`` by a foreign key, ``[]`` if none.

    Models in ``own`` are the row's own settings that go with it (a hub's opening hours) and
    are not counted. Every relation is found from the model's metadata, so a table added later
    that refers to ``obj`` counts without being listed here. One count query per relation.
    """
    skipped = set(own)
    found = []
    for relation in obj._meta.related_objects:
        model = relation.related_model
        if model in skipped:
            continue
        count = model._base_manager.filter(**{relation.field.name: obj}).count()
        if count:
            meta = model._meta
            found.append(f"{count} {meta.verbose_name if count == 1 else meta.verbose_name_plural}")
    return found


def row_archive(row: Model) -> Model:
    """Archive ``row`` (a model with ``is_active`` and ``archived_at``): inactive for good,
    kept with everything that refers to it. Locks the row; archiving twice changes nothing.
    The caller holds the transaction."""
    locked = type(row).objects.select_for_update().get(pk=row.pk)
    if locked.archived_at is not None:
        return locked
    locked.is_active, locked.archived_at = False, timezone.now()
    locked.save(update_fields=["is_active", "archived_at", "updated_at"])
    return locked


def row_delete_unless_history(row: Model, *, history: Callable[[Model], list[str]]) -> None:
    """Delete ``row`` when ``history`` finds nothing that refers to it, else ``HasHistory``.

    The row lock makes a concurrent write that refers to the row wait, so it cannot slip in
    between the check and the delete; a protected reference found by the delete itself is
    refused the same way. The caller holds the transaction.
    """
    locked = type(row).objects.select_for_update().get(pk=row.pk)
    found = history(locked)
    if found:
        raise HasHistory.refusing(locked, found)
    try:
        locked.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise HasHistory.refusing(locked, ["rows that refer to it"]) from exc
