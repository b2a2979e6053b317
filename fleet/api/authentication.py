"""How a telematics device proves who it is: ``Authorization: Device <token>``.

The token names the device, and the device names the vehicle: a device can only ever post
for its own vehicle. Staff sessions are not accepted on device endpoints, nor device tokens
on staff endpoints.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from fleet.models import Device
from fleet.selectors import device_get_by_token

KEYWORD = "Device"


class DevicePrincipal:
    """``request.user`` for a device: authenticated, never staff, no permissions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, device: Device) -> None:
        self.device = device

    def __str__(self) -> str:
        return f"device {self.device.token_prefix}"

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perms: object, obj: object = None) -> bool:
        return False


class DeviceTokenAuthentication(BaseAuthentication):
    def authenticate(self, request) -> tuple[DevicePrincipal, Device] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send 'Authorization: Device <token>'.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid device token.") from None
        device = device_get_by_token(token=token)
        if device is None:
            raise AuthenticationFailed("Invalid or revoked device token.")
        return DevicePrincipal(device), device

    def authenticate_header(self, request) -> str:
        # Makes a missing or bad token a 401 (with this challenge), not a 403.
        return f'{KEYWORD} realm="telematics"'


class IsDevice(BasePermission):
    message = "This endpoint is for telematics devices."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Device)


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "fleet.api.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Device <token>`: the device's token, shown once when the device is created "
                "(or its token rotated) in the back-office."
            ),
        }
