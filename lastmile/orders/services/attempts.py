"""Delivery attempts: a courier either hands the order over (with proof) or records why not."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.uploads import check_image_upload
from lastmile.orders import events
from lastmile.orders.models import (
    DeliveryAttempt,
    FailureReason,
    Order,
    OrderStatus,
    ProofOfDelivery,
)
from lastmile.orders.services.transitions import order_lock, order_transition


def _new_attempt(
    order: Order,
    *,
    outcome: str,
    attempted_at: dt.datetime,
    latitude: Decimal | None,
    longitude: Decimal | None,
    courier: User | None,
    failure_reason: str = "",
    failure_note: str = "",
) -> DeliveryAttempt:
    attempt = DeliveryAttempt(
        order=order,
        number=order.attempt_count + 1,
        outcome=outcome,
        failure_reason=failure_reason,
        failure_note=failure_note,
        attempted_at=attempted_at,
        latitude=latitude,
        longitude=longitude,
        courier=courier,
    )
    attempt.full_clean(exclude=["order", "courier"], validate_unique=False)
    attempt.save()
    Order.objects.filter(pk=order.pk).update(attempt_count=F("attempt_count") + 1)
    return attempt


def _check_position(latitude: Decimal | None, longitude: Decimal | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValidationError({"latitude": ["Give both latitude and longitude, or neither."]})


@transaction.atomic
def order_fail(
    *,
    order: Order,
    reason: str,
    note: str = "",
    attempted_at: dt.datetime | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    source: str,
    actor: User | None = None,
) -> DeliveryAttempt:
    """Record a failed attempt with its reason and move the order to ``failed``.

    The order must be out for delivery. ``other`` needs a note. The attempt and the status
    change are one transaction: there is never a failed order without its attempt. Failing
    an order that is already failed returns its attempt (a retry, not a second failure).
    """
    if reason not in FailureReason.values:
        raise ValidationError({"reason": [f"Choose one of: {', '.join(FailureReason.values)}."]})
    if reason == FailureReason.OTHER and not note.strip():
        raise ValidationError({"note": ["Describe the reason when it is 'other'."]})
    _check_position(latitude, longitude)
    locked = order_lock(order)
    if locked.status == OrderStatus.FAILED:
        # A retried request: the failure is already recorded.
        return locked.attempts.filter(outcome=DeliveryAttempt.Outcome.FAILED).latest("number")
    locked = order_transition(
        locked, target=OrderStatus.FAILED, source=source, actor=actor, payload={"reason": reason}
    )
    attempt = _new_attempt(
        locked,
        outcome=DeliveryAttempt.Outcome.FAILED,
        failure_reason=reason,
        failure_note=note.strip(),
        attempted_at=attempted_at or timezone.now(),
        latitude=latitude,
        longitude=longitude,
        courier=actor,
    )
    events.order_attempt_recorded(attempt=attempt, source=source, actor=actor)
    return attempt


@transaction.atomic
def order_deliver(
    *,
    order: Order,
    recipient_name: str = "",
    photo: UploadedFile | None = None,
    signature: UploadedFile | None = None,
    attempted_at: dt.datetime | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    source: str,
    actor: User | None = None,
) -> DeliveryAttempt:
    """Record a successful delivery with its proof and move the order to ``delivered``.

    A proof needs a recipient name, a photo or a signature; images are checked by content
    (whole JPEG/PNG/WebP, ≤ 5 MB) and stored under the extension of the detected type. Delivering an already delivered order is a no-op that
    returns the existing attempt, so a retried request does not double-complete.
    """
    locked = order_lock(order)
    if locked.status == OrderStatus.DELIVERED:
        return locked.attempts.get(outcome=DeliveryAttempt.Outcome.DELIVERED)
    errors = {}
    extensions = {}
    for name, upload in (("photo", photo), ("signature", signature)):
        if upload is not None:
            try:
                extensions[name] = check_image_upload(upload).extension
            except ValidationError as exc:
                errors[name] = exc.messages
    if not (recipient_name.strip() or photo or signature):
        errors["recipient_name"] = ["Give the recipient's name, a photo or a signature as proof."]
    if errors:
        raise ValidationError(errors)
    _check_position(latitude, longitude)
    locked = order_transition(locked, target=OrderStatus.DELIVERED, source=source, actor=actor)
    at = attempted_at or timezone.now()
    attempt = _new_attempt(
        locked,
        outcome=DeliveryAttempt.Outcome.DELIVERED,
        attempted_at=at,
        latitude=latitude,
        longitude=longitude,
        courier=actor,
    )
    proof = ProofOfDelivery(
        attempt=attempt,
        recipient_name=recipient_name.strip(),
        latitude=latitude,
        longitude=longitude,
        captured_at=at,
    )
    # Stored under the type its bytes have, never the client's name or extension.
    if photo is not None:
        proof.photo.save(f"photo.{extensions['photo']}", photo, save=False)
    if signature is not None:
        proof.signature.save(f"signature.{extensions['signature']}", signature, save=False)
    proof.save()
    events.order_attempt_recorded(attempt=attempt, source=source, actor=actor, proof=proof)
    return attempt
