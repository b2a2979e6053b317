"""Which rows refer to a row: the test of "has history" before anything is deleted."""

from collections.abc import Iterable

from django.db.models import Model


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
