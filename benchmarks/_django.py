"""Set up Django for a benchmark script against the configured database (migrated first)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup() -> str:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lastmile.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return connection.vendor


def purge(queryset) -> None:
    """Delete a benchmark's own throw-away rows, their history rows first.

    History (events, attempts, routes, pings) is protected from cascading deletes in the
    product; a benchmark that made the rows removes what protects them before the rows.
    """
    from django.db.models import ProtectedError, RestrictedError

    for _ in range(50):  # protection chains are a few levels deep
        try:
            queryset.delete()
            return
        except (ProtectedError, RestrictedError) as exc:
            blockers = (
                exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
            )
            by_model: dict = {}
            for row in blockers:
                by_model.setdefault(type(row), set()).add(row.pk)
            for model, pks in by_model.items():
                purge(model._base_manager.filter(pk__in=pks))
    raise RuntimeError(f"could not purge {queryset.model.__name__}")
