"""Order file imports: preview (nothing written), then confirm (valid rows, one transaction)."""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext

from lastmile.accounts.models import User
from lastmile.core.errors import ValidationFailed
from lastmile.core.state import transition
from lastmile.hubs.models import Hub
from lastmile.orders.errors import OrderErrorCode
from lastmile.orders.importing import (
    MAX_REPORTED_ERRORS,
    ImportFileError,
    ParsedFile,
    RowError,
    parse_order_file,
)
from lastmile.orders.models import OrderImport
from lastmile.orders.services.creation import orders_bulk_create
from lastmile.partners.models import Partner

MAX_FILE_BYTES = 20 * 1024 * 1024


def _require_active(*, partner: Partner, hub: Hub) -> None:
    """Orders are imported only for an active partner into an active hub.

    Archived (or deactivated) ones are kept for history, but nothing new may refer to them:
    a ``ValidationFailed`` names which one, on the ``partner`` or ``hub`` field.
    """
    errors: dict[str, list[str]] = {}
    for field, row, kind in (("partner", partner, "partner"), ("hub", hub, "hub")):
        if not row.is_active:
            state = "archived" if row.archived_at is not None else "inactive"
            errors[field] = [f"The {kind} {row} is {state}; orders cannot be imported for it."]
    if errors:
        raise ValidationFailed(
            " ".join(message for messages in errors.values() for message in messages),
            code=OrderErrorCode.IMPORT_TARGET_INACTIVE,
            errors=errors,
        )


def _parse(order_import: OrderImport) -> ParsedFile:
    with order_import.file.open("rb") as handle:
        content = handle.read()
    return parse_order_file(
        content=content,
        file_name=order_import.file_name,
        partner=order_import.partner,
        hub=order_import.hub,
    )


@transaction.atomic
def order_import_preview(
    *, partner: Partner, hub: Hub, upload: UploadedFile, uploaded_by: User | None = None
) -> tuple[OrderImport, ParsedFile]:
    """Store the file and check every row; write no order.

    A file that cannot be read at all (format, encoding, missing columns) is refused with a
    ``ValidationFailed`` on ``file``, an archived or inactive partner or hub with one on
    ``partner`` or ``hub``; row problems are reported on the preview instead.
    """
    _require_active(partner=partner, hub=hub)
    if upload.size and upload.size > MAX_FILE_BYTES:
        raise ValidationFailed(
            "The file is too large.", errors={"file": ["Files are limited to 20 MB."]}
        )
    content = upload.read()
    try:
        parsed = parse_order_file(
            content=content, file_name=upload.name or "", partner=partner, hub=hub
        )
    except ImportFileError as exc:
        raise ValidationFailed(str(exc), errors={"file": [str(exc)]}) from None
    order_import = OrderImport(
        partner=partner,
        hub=hub,
        uploaded_by=uploaded_by,
        file_name=(upload.name or "orders")[-255:],
        file_sha256=hashlib.sha256(content).hexdigest(),
        row_count=parsed.row_count,
        error_row_count=parsed.error_rows,
        new_order_count=len(parsed.new_orders),
        existing_order_count=len(parsed.existing_references),
        errors=[error.as_dict() for error in parsed.errors[:MAX_REPORTED_ERRORS]],
        warnings=[warning.as_dict() for warning in parsed.warnings[:MAX_REPORTED_ERRORS]],
        warning_order_count=len(parsed.warned_references),
    )
    # The parser accepted only .csv or .xlsx; the client's name is kept in ``file_name`` only.
    extension = "xlsx" if order_import.file_name.lower().endswith(".xlsx") else "csv"
    order_import.file.save(f"orders.{extension}", ContentFile(content), save=False)
    order_import.save()
    return order_import, parsed


@transaction.atomic
def order_import_confirm(
    *, order_import: OrderImport, actor: User | None = None, accept_warnings: bool = False
) -> OrderImport:
    """Write the valid orders of a previewed import, all in one transaction.

    The file is checked again at this moment (orders may have arrived since the preview);
    references the partner already used are skipped, so confirming adds each order once.
    Orders with warnings are written only with ``accept_warnings`` (the dispatcher checked
    the previewed warnings): without it, an import that has any is refused with
    ``ValidationFailed`` (``warnings_unconfirmed``) and stays previewed, nothing written. A
    warning that was not in the preview (the hub's vehicles changed meanwhile) was not
    confirmed: its order is held back and reported with the errors. Confirming a confirmed
    import changes nothing. A partner or hub archived (or deactivated) since the preview
    refuses it with ``ValidationFailed`` (``import_target_inactive``) and nothing is
    written; the import stays previewed, to be discarded. Both rows are locked
    (``FOR NO KEY UPDATE``) until the orders are written, so an archive waits for the import
    rather than slipping in between the check and the write.
    """
    moved = transition(
        order_import,
        table=OrderImport.TRANSITIONS,
        entity="Import",
        target=OrderImport.Status.CONFIRMED,
        # The orders' own ``created`` events are the record; an import has no timeline.
        record=None,
        stamps={OrderImport.Status.CONFIRMED: "confirmed_at"},
    )
    locked = moved.row
    if not moved.changed:
        return locked
    # Anything refused below rolls the move back with the rest: the import stays previewed.
    locked.hub = Hub.objects.select_for_update(no_key=True).get(pk=locked.hub_id)
    locked.partner = Partner.objects.select_for_update(no_key=True).get(pk=locked.partner_id)
    _require_active(partner=locked.partner, hub=locked.hub)
    parsed = _parse(locked)
    if parsed.warned_references and not accept_warnings:
        raise ValidationFailed(
            gettext("Check the warnings and confirm them before importing."),
            code=OrderErrorCode.WARNINGS_UNCONFIRMED,
            errors={"accept_warnings": [gettext("Confirm that you checked the warnings.")]},
        )
    previewed = {(w["row"], w["column"], w["message"]) for w in locked.warnings}
    unconfirmed: dict[str, RowError] = {}
    for warning in parsed.warnings:
        if (warning.row, warning.column, warning.message) not in previewed:
            unconfirmed.setdefault(parsed.warned_rows.get(warning.row, ""), warning)
    held = {reference for reference in parsed.warned_references if reference in unconfirmed}
    errors = list(parsed.errors)
    for reference in sorted(held):
        warning = unconfirmed[reference]
        errors.append(
            RowError(
                warning.row,
                warning.column,
                gettext("Not imported: not in the preview you confirmed: %(message)s")
                % {"message": warning.message},
            )
        )
    result = orders_bulk_create(
        partner=locked.partner,
        hub=locked.hub,
        orders=[built for built in parsed.new_orders if built[0].external_reference not in held],
        source="import",
        actor=actor,
    )
    errors.sort(key=lambda e: (e.row, e.column))
    locked.created_order_count = len(result.created)
    locked.existing_order_count = len(parsed.existing_references) + len(result.skipped_existing)
    locked.error_row_count = len({error.row for error in errors})
    locked.errors = [error.as_dict() for error in errors[:MAX_REPORTED_ERRORS]]
    locked.save(
        update_fields=[
            "created_order_count",
            "existing_order_count",
            "error_row_count",
            "errors",
            "updated_at",
        ]
    )
    return locked


@transaction.atomic
def order_import_discard(*, order_import: OrderImport) -> OrderImport:
    """Drop a previewed import (previewed → discarded); discarding twice changes nothing."""
    return transition(
        order_import,
        table=OrderImport.TRANSITIONS,
        entity="Import",
        target=OrderImport.Status.DISCARDED,
        record=None,
    ).row
