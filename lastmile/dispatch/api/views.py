"""Driver API: a signed-in courier's routes, route offers and the stop updates a driver app
sends.

One view per operation; views parse, look the route or stop up scoped to the courier
(another courier's is a 404), call one service and render. Errors go through the project's
exception handler (400 field errors, 404, 409 for a move the state machines refuse). Only
active, approved couriers get in: a suspended one is a 403 ``courier_not_active``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lastmile.core.api import COMMON_PROBLEMS, RETRY_AFTER, THROTTLED, TOO_LARGE, problem
from lastmile.core.errors import ErrorCode
from lastmile.core.limits import LimitedFormParser, LimitedJSONParser
from lastmile.core.throttles import CourierRateThrottle
from lastmile.core.uploads import check_image_upload
from lastmile.dispatch.api.permissions import IsActiveCourier
from lastmile.dispatch.api.serializers import (
    OfferSerializer,
    PositionInputSerializer,
    RouteSummarySerializer,
    StopSerializer,
    StopUpdateOutputSerializer,
)
from lastmile.dispatch.errors import (
    CourierBusy,
    CourierNotActive,
    CourierUnfit,
    DispatchErrorCode,
    OfferClosed,
    RouteTaken,
)
from lastmile.dispatch.models import Route, RouteOffer, Stop
from lastmile.dispatch.selectors import (
    offers_open_for,
    route_get_for_courier,
    route_stops,
    routes_for_courier,
    stop_get_for_courier,
)
from lastmile.dispatch.services import (
    route_offer_accept,
    route_offer_decline,
    route_start,
    stop_arrive,
    stop_complete,
    stop_deliver,
    stop_fail,
)
from lastmile.orders.models import FailureReason
from workforce.models import Courier
from workforce.selectors import courier_get_for_user

# Every driver operation: throttled per courier (429 with Retry-After), and refused to a
# courier who may not drive. Operations that take a body add ``TOO_LARGE``, those that change
# a route or a stop their 409 with its codes.
DRIVER_PROBLEMS = {
    **COMMON_PROBLEMS,
    403: problem(
        "The courier may not use the driver API (or there is no session).",
        CourierNotActive,
        ErrorCode.NOT_AUTHENTICATED,
    ),
    **THROTTLED,
}
# A stop changes only on a started route, and only as the stop's state machine allows.
STOP_CONFLICTS = (DispatchErrorCode.ROUTE_NOT_IN_PROGRESS, ErrorCode.INVALID_TRANSITION)


class DriverApiView(APIView):
    """The driver API's base: signed in, and an active courier."""

    permission_classes = [IsAuthenticated, IsActiveCourier]
    throttle_classes = [CourierRateThrottle]


def _courier(request: Request) -> Courier:
    # Staff and partners have no courier profile: NotFound, a 404 like any other's route.
    return courier_get_for_user(user=request.user)


def _own_stop_and_input(
    request: Request, stop_id: int, serializer: type[serializers.Serializer]
) -> tuple[Courier, Stop, dict[str, Any]]:
    """The requesting courier, their stop (another's is a 404) and the checked input (400)."""
    courier = _courier(request)
    stop = stop_get_for_courier(courier=courier, stop_id=stop_id)
    data = serializer(data=request.data)
    data.is_valid(raise_exception=True)
    return courier, stop, data.validated_data


def _stop_body(stop: Stop) -> dict[str, Any]:
    route = Route.objects.only("status").get(pk=stop.route_id)
    fresh = Stop.objects.select_related("order").get(pk=stop.pk)
    return {"route_status": route.status, "stop": StopSerializer(fresh).data}


class DriverRouteListApi(DriverApiView):
    class RouteListOutputSerializer(RouteSummarySerializer):
        pass

    @extend_schema(
        operation_id="driver_routes_list",
        summary="The signed-in courier's routes for today and tomorrow",
        parameters=[RETRY_AFTER],
        responses={200: RouteListOutputSerializer(many=True), **DRIVER_PROBLEMS},
    )
    def get(self, request: Request) -> Response:
        # At most a few routes (two days, one courier): no pagination needed.
        routes = routes_for_courier(courier=_courier(request))
        return Response(self.RouteListOutputSerializer(routes, many=True).data)


class DriverRouteDetailApi(DriverApiView):
    class RouteDetailOutputSerializer(RouteSummarySerializer):
        stops = StopSerializer(many=True, source="stops_list")

    @extend_schema(
        operation_id="driver_routes_retrieve",
        summary="One of the courier's routes with its stops in order",
        parameters=[RETRY_AFTER],
        responses={200: RouteDetailOutputSerializer, **DRIVER_PROBLEMS},
    )
    def get(self, request: Request, route_id: int) -> Response:
        route = route_get_for_courier(courier=_courier(request), route_id=route_id)
        route.stops_list = list(route_stops(route=route))
        return Response(self.RouteDetailOutputSerializer(route).data)


class DriverRouteStartApi(DriverApiView):
    class RouteStartOutputSerializer(RouteSummarySerializer):
        pass

    @extend_schema(
        operation_id="driver_routes_start",
        summary="Start the route: its orders go out for delivery (a retry is a no-op)",
        request=None,
        parameters=[RETRY_AFTER],
        responses={
            200: RouteStartOutputSerializer,
            **DRIVER_PROBLEMS,
            409: problem("The route cannot start:", ErrorCode.INVALID_TRANSITION),
        },
    )
    def post(self, request: Request, route_id: int) -> Response:
        courier = _courier(request)
        route = route_get_for_courier(courier=courier, route_id=route_id)
        started = route_start(route=route, courier=courier)
        return Response(self.RouteStartOutputSerializer(started).data)


class _StopPositionApi(DriverApiView):
    """A stop update that carries only the courier's optional position."""

    class StopPositionInputSerializer(PositionInputSerializer):
        pass

    service: Callable[..., Stop]

    def post(self, request: Request, stop_id: int) -> Response:
        courier, stop, values = _own_stop_and_input(
            request, stop_id, self.StopPositionInputSerializer
        )
        type(self).service(
            stop=stop, courier=courier, lat=values.get("latitude"), lng=values.get("longitude")
        )
        return Response(_stop_body(stop))


class DriverStopArriveApi(_StopPositionApi):
    service = staticmethod(stop_arrive)

    @extend_schema(
        operation_id="driver_stops_arrive",
        summary="The courier is at the stop (a retry is a no-op)",
        request=_StopPositionApi.StopPositionInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            200: StopUpdateOutputSerializer,
            **DRIVER_PROBLEMS,
            **TOO_LARGE,
            409: problem("The stop cannot change now:", *STOP_CONFLICTS),
        },
    )
    def post(self, request: Request, stop_id: int) -> Response:
        return super().post(request, stop_id)


class DriverStopCompleteApi(_StopPositionApi):
    service = staticmethod(stop_complete)

    @extend_schema(
        operation_id="driver_stops_complete",
        summary="A reload at the hub or a break is done (order stops: deliver or fail)",
        request=_StopPositionApi.StopPositionInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            200: StopUpdateOutputSerializer,
            **DRIVER_PROBLEMS,
            **TOO_LARGE,
            409: problem(
                "The stop cannot change now:", DispatchErrorCode.ORDER_STOP, *STOP_CONFLICTS
            ),
        },
    )
    def post(self, request: Request, stop_id: int) -> Response:
        return super().post(request, stop_id)


def _image(value: Any) -> Any:
    # Refused here by content, as a field error, before the service takes any row lock;
    # ``order_deliver`` applies the same check for its other callers and names the stored
    # file after the detected type.
    try:
        check_image_upload(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None
    return value


class DriverStopDeliverApi(DriverApiView):
    parser_classes = [MultiPartParser, LimitedFormParser, LimitedJSONParser]

    class StopDeliverInputSerializer(PositionInputSerializer):
        recipient_name = serializers.CharField(
            max_length=120, required=False, allow_blank=True, default=""
        )
        photo = serializers.FileField(
            required=False, help_text="JPEG, PNG or WebP, at most 5 MB, checked by content"
        )
        signature = serializers.FileField(
            required=False, help_text="JPEG, PNG or WebP, at most 5 MB, checked by content"
        )

        def validate_photo(self, value: Any) -> Any:
            return _image(value)

        def validate_signature(self, value: Any) -> Any:
            return _image(value)

    @extend_schema(
        operation_id="driver_stops_deliver",
        summary="Delivered with proof (recipient name, photo or signature; a retry is a no-op)",
        request={
            "multipart/form-data": StopDeliverInputSerializer,
            "application/json": StopDeliverInputSerializer,
        },
        parameters=[RETRY_AFTER],
        responses={
            200: StopUpdateOutputSerializer,
            **DRIVER_PROBLEMS,
            **TOO_LARGE,
            409: problem("The stop cannot change now:", *STOP_CONFLICTS),
        },
    )
    def post(self, request: Request, stop_id: int) -> Response:
        courier, stop, values = _own_stop_and_input(
            request, stop_id, self.StopDeliverInputSerializer
        )
        stop_deliver(
            stop=stop,
            courier=courier,
            recipient_name=values["recipient_name"],
            photo=values.get("photo"),
            signature=values.get("signature"),
            lat=values.get("latitude"),
            lng=values.get("longitude"),
        )
        return Response(_stop_body(stop))


class DriverStopFailApi(DriverApiView):
    class StopFailInputSerializer(PositionInputSerializer):
        reason = serializers.ChoiceField(choices=FailureReason.choices)
        note = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="driver_stops_fail",
        summary="The stop could not be served, with a reason (a retry is a no-op)",
        request=StopFailInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            200: StopUpdateOutputSerializer,
            **DRIVER_PROBLEMS,
            **TOO_LARGE,
            409: problem("The stop cannot change now:", *STOP_CONFLICTS),
        },
    )
    def post(self, request: Request, stop_id: int) -> Response:
        courier, stop, values = _own_stop_and_input(request, stop_id, self.StopFailInputSerializer)
        stop_fail(
            stop=stop,
            courier=courier,
            reason=values["reason"],
            note=values["note"],
            lat=values.get("latitude"),
            lng=values.get("longitude"),
        )
        return Response(_stop_body(stop))


# --- Route offers ---------------------------------------------------------------------------


class DriverOfferListApi(DriverApiView):
    class OfferListOutputSerializer(OfferSerializer):
        stop_count = serializers.IntegerField()

    @extend_schema(
        operation_id="driver_offers_list",
        summary="The courier's open route offers (at most one at a time)",
        parameters=[RETRY_AFTER],
        responses={200: OfferListOutputSerializer(many=True), **DRIVER_PROBLEMS},
    )
    def get(self, request: Request) -> Response:
        # One open offer per courier (a database constraint): no pagination needed.
        offers = offers_open_for(courier=_courier(request))
        return Response(self.OfferListOutputSerializer(offers, many=True).data)


class DriverOfferAcceptApi(DriverApiView):
    class OfferAcceptOutputSerializer(OfferSerializer):
        pass

    @extend_schema(
        operation_id="driver_offers_accept",
        summary="Take the offered route (409: offer_closed, offer_expired, route_taken, "
        "courier_unfit, courier_busy; a retry is a no-op)",
        request=None,
        parameters=[RETRY_AFTER],
        responses={
            200: OfferAcceptOutputSerializer,
            **DRIVER_PROBLEMS,
            409: problem(
                "The route cannot be taken:",
                OfferClosed,
                # raised by ``route_offer_accept`` with its own code, no class of its own
                DispatchErrorCode.OFFER_EXPIRED,
                RouteTaken,
                CourierUnfit,
                CourierBusy,
            ),
        },
    )
    def post(self, request: Request, offer_id: int) -> Response:
        offer = route_offer_accept(offer_id=offer_id, courier=_courier(request))
        return Response(self.OfferAcceptOutputSerializer(_offer_for_output(offer)).data)


class DriverOfferDeclineApi(DriverApiView):
    class OfferDeclineOutputSerializer(OfferSerializer):
        pass

    @extend_schema(
        operation_id="driver_offers_decline",
        summary="Decline the offered route; it goes to the next courier (a retry is a no-op)",
        request=None,
        parameters=[RETRY_AFTER],
        responses={
            200: OfferDeclineOutputSerializer,
            **DRIVER_PROBLEMS,
            409: problem("The offer cannot be declined:", OfferClosed),
        },
    )
    def post(self, request: Request, offer_id: int) -> Response:
        offer = route_offer_decline(offer_id=offer_id, courier=_courier(request))
        return Response(self.OfferDeclineOutputSerializer(_offer_for_output(offer)).data)


def _offer_for_output(offer: RouteOffer) -> RouteOffer:
    return RouteOffer.objects.select_related("route__plan__hub", "route__vehicle").get(pk=offer.pk)
