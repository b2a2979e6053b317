"""Writes of telematics devices: issue, rotate and revoke their tokens.

The plaintext token is returned once, by the service that issues it, and never stored: only
its prefix (for lookup) and its SHA-256 hash are. Each change writes an audit event.
"""

from django.db import transaction
from django.utils import timezone

from fleet import events
from fleet.errors import FleetErrorCode
from fleet.models import Device, Vehicle, VehicleStatus
from fleet.tokens import issue_token
from lastmile.accounts.models import User
from lastmile.core.errors import Conflict


@transaction.atomic
def device_create(
    *, vehicle: Vehicle, name: str, source: str, actor: User | None = None
) -> tuple[Device, str]:
    """Register a device for ``vehicle``; returns it and its token, which is shown only now."""
    # Locked: a retirement committing meanwhile must not leave a live device behind.
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    if vehicle.status == VehicleStatus.RETIRED:
        raise Conflict(
            f"{vehicle.code} is retired; it cannot get a device.",
            code=FleetErrorCode.VEHICLE_RETIRED,
            errors={"vehicle": ["This vehicle is retired."]},
        )
    issued = issue_token()
    device = Device(
        vehicle=vehicle,
        name=name.strip(),
        token_prefix=issued.prefix,
        token_hash=issued.token_hash,
    )
    device.full_clean()
    device.save()
    events.device_created(device=device, source=source, actor=actor)
    return device, issued.token


@transaction.atomic
def device_rotate_token(*, device: Device, source: str, actor: User | None = None) -> str:
    """Give the device a new token (the old one stops working at once); returns the new one."""
    locked = Device.objects.select_for_update().get(pk=device.pk)
    if locked.revoked_at is not None:
        raise Conflict(
            "A revoked device cannot get a new token.", code=FleetErrorCode.DEVICE_REVOKED
        )
    old_prefix = locked.token_prefix
    issued = issue_token()
    locked.token_prefix, locked.token_hash = issued.prefix, issued.token_hash
    locked.save(update_fields=["token_prefix", "token_hash", "updated_at"])
    events.device_token_rotated(device=locked, from_prefix=old_prefix, source=source, actor=actor)
    return issued.token


@transaction.atomic
def device_revoke(
    *, device: Device, source: str, actor: User | None = None, reason: str = ""
) -> Device:
    """Stop the device from posting. Revoking a revoked device changes nothing."""
    locked = Device.objects.select_for_update().get(pk=device.pk)
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at", "updated_at"])
    events.device_revoked(device=locked, source=source, actor=actor, reason=reason)
    return locked
