"""Event rows are written only by their app's ``events.py`` (one constructor per kind).

Read from the source (``ast``), as a reviewer would: any other module that instantiates an
event model, or creates rows through its manager or a related manager (``order.events``),
fails here with the file and line. The event models are found, not listed: every concrete
subclass of ``core.models.EventModel``.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps

from lastmile.core.models import EventModel

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = ("lastmile", "fleet", "workforce")
WRITES = frozenset({"create", "bulk_create", "get_or_create", "update_or_create"})


def _event_models() -> list[type[EventModel]]:
    return [
        model
        for model in apps.get_models()
        if issubclass(model, EventModel) and not model._meta.abstract
    ]


def _constructor_module(model: type[EventModel]) -> str:
    """``lastmile/orders/events.py`` for ``OrderEvent``: the events module of its app."""
    return model._meta.app_config.module.__name__.replace(".", "/") + "/events.py"


def _related_names() -> set[str]:
    # ``order.events.create(...)`` writes an OrderEvent as surely as OrderEvent.objects does.
    return {
        field.remote_field.related_name
        for model in _event_models()
        for field in model._meta.get_fields()
        if field.many_to_one and field.remote_field.related_name not in (None, "+")
    }


def _source_files() -> Iterator[Path]:
    for root in SOURCE_ROOTS:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def _local_names(tree: ast.Module, models: set[str]) -> dict[str, str]:
    """What each event model is called in this module (``import OrderEvent as OE``)."""
    names = {name: name for name in models}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in models and alias.asname:
                    names[alias.asname] = alias.name
    return names


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # models.OrderEvent, self.model…
        return node.attr
    return None


def _writes(path: Path, models: set[str], related: set[str]) -> Iterator[tuple[str, int]]:
    """(model or related manager, line) for each event row this module writes itself."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = _local_names(tree, models)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if _name_of(func) in names:  # OrderEvent(...)
            yield names[_name_of(func)], node.lineno
        elif isinstance(func, ast.Attribute) and func.attr in WRITES:
            manager = func.value
            if not isinstance(manager, ast.Attribute):
                continue
            owner = _name_of(manager.value)
            if manager.attr in ("objects", "_default_manager") and owner in names:
                yield names[owner], node.lineno  # OrderEvent.objects.create(...)
            elif manager.attr in related:
                yield f"<row>.{manager.attr}", node.lineno  # order.events.create(...)


def _offences() -> list[tuple[str, str, int]]:
    models = _event_models()
    allowed = {_constructor_module(model) for model in models}
    by_name = {model.__name__: model for model in models}
    related = _related_names()
    found = []
    for path in _source_files():
        relative = path.relative_to(ROOT).as_posix()
        for what, line in _writes(path, set(by_name), related):
            own = _constructor_module(by_name[what]) if what in by_name else None
            if relative == own or (own is None and relative in allowed):
                continue
            found.append((relative, what, line))
    return found


def test_every_event_model_is_found():
    # given / when
    names = {model.__name__ for model in _event_models()}

    # then: the five timelines, each with its constructors module
    assert names == {"OrderEvent", "PlanEvent", "FleetEvent", "CourierEvent", "PayoutBatchEvent"}
    for model in _event_models():
        assert (ROOT / _constructor_module(model)).is_file(), _constructor_module(model)


def test_event_rows_are_created_only_by_their_apps_constructors():
    # given / when
    offences = [f"{path}:{line} writes {what}" for path, what, line in _offences()]

    # then
    assert not offences, "Write event rows through the app's events.py:\n" + "\n".join(offences)


def test_the_checker_sees_each_way_of_writing_a_row(tmp_path):
    # given: a module writing events in every way the check must catch
    source = tmp_path / "sneaky.py"
    source.write_text(
        "from lastmile.orders.models import OrderEvent as OE\n"
        "from lastmile.dispatch import models\n"
        "OE(kind='created')\n"
        "OE.objects.create(kind='created')\n"
        "models.PlanEvent.objects.bulk_create([])\n"
        "order.events.create(kind='updated')\n"
        "OE.objects.filter(kind='created').exists()\n"  # a read: fine
    )
    models = {model.__name__ for model in _event_models()}

    # when
    found = sorted(_writes(source, models, _related_names()), key=lambda hit: hit[1])

    # then
    assert found == [
        ("OrderEvent", 3),
        ("OrderEvent", 4),
        ("PlanEvent", 5),
        ("<row>.events", 6),
    ]
