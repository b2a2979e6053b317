"""Who may use the driver API: an active, approved courier; anyone else is told why."""

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from lastmile.core.errors import NotFound
from lastmile.dispatch.services import courier_active_refusal
from workforce.selectors import courier_get_for_user


class IsActiveCourier(BasePermission):
    """A courier who may not drive (suspended, offboarded, not approved) is refused with a
    403 problem ``courier_not_active``. A user without a courier profile passes on to the
    view, which answers 404 as for anyone else's route."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        try:
            courier = courier_get_for_user(user=request.user)
        except NotFound:
            return True
        refusal = courier_active_refusal(courier)
        if refusal is not None:
            raise refusal
        return True
