"""``python manage.py rotate_field_keys [--batch-size 500]``: re-encrypt every encrypted field
with the newest key of ``WORKFORCE_FIELD_ENCRYPTION_KEYS``.

Every column of every model that is a ``crypto.EncryptedTokenField`` (couriers' IBANs, the
accounts approved on payout batches) is walked in primary-key order, a batch of rows at a
time, each batch locked and committed on its own. A value already under the newest key is
left alone, so the command is idempotent and a run stopped half-way is finished by running it
again. Values no configured key can read are left as they are and listed, and the command
then exits with an error.
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from workforce import crypto


@dataclass
class _Counts:
    rotated: int = 0
    current: int = 0
    unreadable: list[int] = field(default_factory=list)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) holding Fernet tokens, in a stable order."""
    found = [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, crypto.EncryptedTokenField)
    ]
    return sorted(found, key=lambda pair: (pair[0]._meta.label, pair[1]))


def _rotate_batch(
    model: type[models.Model], name: str, *, after: int, size: int, counts: _Counts
) -> int | None:
    """Rotate the next ``size`` rows after pk ``after``; the last pk seen, or None at the end."""
    with transaction.atomic():
        rows = list(
            model._default_manager.select_for_update()
            .filter(pk__gt=after)
            .exclude(**{name: ""})
            .order_by("pk")
            .values_list("pk", name)[:size]
        )
        for pk, token in rows:
            if crypto.is_current(token):
                counts.current += 1
                continue
            try:
                rotated = crypto.rotate(token)
            except crypto.InvalidToken:
                counts.unreadable.append(pk)
                continue
            model._default_manager.filter(pk=pk).update(**{name: rotated})
            counts.rotated += 1
    return rows[-1][0] if rows else None


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the newest WORKFORCE_FIELD_ENCRYPTION_KEYS key, "
        "in batches committed one by one; safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Rows per transaction (default 500)"
        )

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        unreadable: list[str] = []
        for model, name in encrypted_fields():
            counts, after = _Counts(), 0
            while True:
                last = _rotate_batch(model, name, after=after, size=batch_size, counts=counts)
                if last is None:
                    break
                after = last
            label = f"{model._meta.label}.{name}"
            self.stdout.write(
                f"{label}: {counts.rotated} re-encrypted, {counts.current} already current, "
                f"{len(counts.unreadable)} unreadable."
            )
            unreadable += [f"{label} pk={pk}" for pk in counts.unreadable]
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} value(s) cannot be decrypted with any configured key and were "
                "left unchanged: " + ", ".join(unreadable) + ". Add the key they were written "
                "with to WORKFORCE_FIELD_ENCRYPTION_KEYS (after the newest) and run again, or "
                "have the IBAN entered again."
            )
        self.stdout.write(self.style.SUCCESS("Every encrypted value is under the newest key."))
