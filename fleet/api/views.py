"""Fleet endpoints: one view per operation, plain input and output serializers.

Views parse, call one service or selector, and render; every rule lives in the services.
"""

from collections.abc import Mapping
from typing import Any

import django_filters
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fleet import selectors, services
from fleet.api.authentication import DeviceTokenAuthentication, IsDevice
from fleet.api.permissions import require_perms
from fleet.errors import FleetErrorCode
from fleet.models import (
    ODOMETER_M_MAX,
    ChargingPlan,
    ChargingPlanVehicle,
    ShortfallReason,
    Vehicle,
    VehicleKind,
    VehicleStatus,
)
from fleet.selectors import charging_plan_get, vehicle_list
from fleet.services.plans import MAX_ENERGY_NEED_WH
from fleet.services.telematics import MAX_BATCH
from lastmile.core.api import (
    COMMON_PROBLEMS,
    RETRY_AFTER,
    THROTTLED,
    TOO_LARGE,
    invalid_input,
    problem,
)
from lastmile.core.throttles import DeviceRateThrottle
from lastmile.hubs.models import Hub

# --- Shared serializer pieces ---------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset; a time without one is refused, never guessed."""

    default_error_messages = {
        "naive": "Include a time zone offset, e.g. 2025-05-01T06:30:00Z.",
    }

    def to_internal_value(self, value: Any):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                # Well-formed but impossible (30 February): Django raises where DRF fails.
                self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]]±hh:mm")
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class StrictFloatField(serializers.FloatField):
    """A number, not a boolean: DRF's float field would take ``true`` as 1.0."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class BoundedListField(serializers.ListField):
    """Refuses an over-long list before validating any item.

    DRF checks ``max_length`` only after every child has been validated, so a body of a
    hundred thousand pings would be parsed ping by ping before being refused.
    """

    def to_internal_value(self, data: Any) -> list:
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know instead of silently dropping them."""

    unknown_field_hints: Mapping[str, str] = {}

    def to_internal_value(self, data: Any):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [self.unknown_field_hints.get(name, "Unknown field.")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


# --- Telematics -----------------------------------------------------------------------------

_VEHICLE_FROM_DEVICE = "The device's token decides the vehicle; a request cannot name one."
_VEHICLE_HINTS = {
    "vehicle": _VEHICLE_FROM_DEVICE,
    "vehicle_id": _VEHICLE_FROM_DEVICE,
    "device": _VEHICLE_FROM_DEVICE,
}


class PingSerializer(StrictSerializer):
    unknown_field_hints = _VEHICLE_HINTS

    recorded_at = AwareDateTimeField(help_text="Device time of the fix, ISO 8601 with offset")
    latitude = StrictFloatField(help_text="WGS84 degrees, -90 to 90")
    longitude = StrictFloatField(help_text="WGS84 degrees, -180 to 180")
    speed_kmh = StrictFloatField(required=False, allow_null=True, help_text="0 to 250")
    heading_deg = StrictFloatField(
        required=False, allow_null=True, help_text="0 (north) to below 360, clockwise"
    )
    soc_pct = StrictFloatField(
        required=False, allow_null=True, help_text="State of charge, 0 to 100"
    )
    odometer_m = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=ODOMETER_M_MAX
    )


class PingIngestApi(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsDevice]
    throttle_classes = [DeviceRateThrottle]

    class PingBatchInputSerializer(StrictSerializer):
        unknown_field_hints = _VEHICLE_HINTS

        pings = BoundedListField(
            child=PingSerializer(), min_length=1, max_length=MAX_BATCH, allow_empty=False
        )

    class PingBatchOutputSerializer(serializers.Serializer):
        vehicle = serializers.CharField(help_text="Code of the vehicle the token belongs to")
        received = serializers.IntegerField()
        stored = serializers.IntegerField()
        duplicates = serializers.IntegerField(help_text="Already stored or repeated in the batch")
        newest_recorded_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        operation_id="fleet_telematics_pings_ingest",
        tags=["fleet: telematics"],
        summary="Send a batch of telematics pings",
        description=(
            "For devices, authenticated with `Authorization: Device <token>`. Up to "
            f"{MAX_BATCH} pings per request, in any order. All or nothing: one invalid ping "
            "refuses the batch (400, errors by ping index and field) and nothing is stored. "
            "Idempotent on (device, recorded_at): re-sending a ping is counted as a duplicate."
        ),
        request=PingBatchInputSerializer,
        parameters=[RETRY_AFTER],
        responses={200: PingBatchOutputSerializer, **COMMON_PROBLEMS, **TOO_LARGE, **THROTTLED},
    )
    def post(self, request: Request) -> Response:
        serializer = self.PingBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device = request.auth
        result = services.pings_ingest(
            device=device,
            pings=[services.PingInput(**ping) for ping in serializer.validated_data["pings"]],
        )
        body = {
            "vehicle": device.vehicle.code,
            "received": result.received,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "newest_recorded_at": result.newest_recorded_at,
        }
        return Response(self.PingBatchOutputSerializer(body).data)


# --- Vehicles -------------------------------------------------------------------------------


class VehicleFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="home_hub__code", help_text="Hub code")
    status = django_filters.ChoiceFilter(choices=VehicleStatus.choices)
    kind = django_filters.ChoiceFilter(field_name="vehicle_type__kind", choices=VehicleKind.choices)

    class Meta:
        model = Vehicle
        fields = ["hub", "status", "kind"]


class VehicleStateSerializer(serializers.Serializer):
    recorded_at = serializers.DateTimeField(allow_null=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    speed_kmh = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    heading_deg = serializers.IntegerField(allow_null=True)
    odometer_m = serializers.IntegerField(allow_null=True)
    soc_pct = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    soc_recorded_at = serializers.DateTimeField(allow_null=True)


class VehicleListApi(APIView):
    permission_classes = [require_perms("fleet.view_vehicle")]

    class Pagination(CursorPagination):
        ordering = ("code",)
        page_size = 50

    class VehicleOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        code = serializers.CharField()
        registration = serializers.CharField()
        kind = serializers.CharField(source="vehicle_type.kind")
        vehicle_type = serializers.CharField(source="vehicle_type.name")
        hub = serializers.CharField(source="home_hub.code")
        status = serializers.CharField()
        skills = serializers.ListField(child=serializers.CharField())
        state = VehicleStateSerializer(
            allow_null=True, help_text="Last known fix and state of charge; null fields before any"
        )

    @extend_schema(
        operation_id="fleet_vehicles_list",
        tags=["fleet: vehicles"],
        summary="Vehicles with their last known position and state of charge",
        parameters=[
            OpenApiParameter("hub", str, description="Home hub code, e.g. BER-TH"),
            OpenApiParameter("status", str, enum=VehicleStatus.values),
            OpenApiParameter("kind", str, enum=VehicleKind.values),
            OpenApiParameter("cursor", str, description="From the previous page's next link"),
        ],
        responses={200: VehicleOutputSerializer(many=True), **COMMON_PROBLEMS},
    )
    def get(self, request: Request) -> Response:
        filters = VehicleFilter(request.query_params, queryset=vehicle_list())
        if not filters.is_valid():
            raise serializers.ValidationError(filters.errors)
        paginator = self.Pagination()
        page = paginator.paginate_queryset(filters.qs, request, view=self)
        return paginator.get_paginated_response(self.VehicleOutputSerializer(page, many=True).data)


# --- Charging sessions ----------------------------------------------------------------------


class ChargingSessionCreateApi(APIView):
    permission_classes = [require_perms("fleet.add_chargingsession")]

    class SessionInputSerializer(StrictSerializer):
        vehicle = serializers.CharField(help_text="Vehicle code, e.g. TH-EV01")
        hub = serializers.CharField(help_text="Code of the hub the charger is at")
        charger = serializers.CharField(help_text="Charger code at that hub, e.g. AC-01")
        started_at = AwareDateTimeField()
        ended_at = AwareDateTimeField()
        energy_wh = serializers.IntegerField(min_value=0, help_text="Metered energy, Wh")
        start_soc_pct = serializers.DecimalField(
            max_digits=4,
            decimal_places=1,
            min_value=0,
            max_value=100,
            required=False,
            allow_null=True,
        )
        end_soc_pct = serializers.DecimalField(
            max_digits=4,
            decimal_places=1,
            min_value=0,
            max_value=100,
            required=False,
            allow_null=True,
        )

    class SessionOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        vehicle = serializers.CharField(source="vehicle.code")
        charger = serializers.CharField(source="charger.code")
        started_at = serializers.DateTimeField()
        ended_at = serializers.DateTimeField()
        energy_wh = serializers.IntegerField()
        start_soc_pct = serializers.DecimalField(max_digits=4, decimal_places=1)
        end_soc_pct = serializers.DecimalField(max_digits=4, decimal_places=1)
        cost_minor = serializers.IntegerField()
        currency = serializers.CharField()

    @extend_schema(
        operation_id="fleet_charging_sessions_record",
        tags=["fleet: charging"],
        summary="Record a finished charging session",
        description=(
            "Priced at the site's tariff. Idempotent on (charger, started_at): the same "
            "session again answers 200 with the stored one; another vehicle's, or one "
            "overlapping a session of the charger or the vehicle, is a 409."
        ),
        request=SessionInputSerializer,
        responses={
            201: SessionOutputSerializer,
            200: SessionOutputSerializer,
            **COMMON_PROBLEMS,
            400: invalid_input(FleetErrorCode.TARIFF_INCOMPLETE),
            409: problem(
                "The session collides with a stored one:",
                FleetErrorCode.SESSION_EXISTS,
                FleetErrorCode.SESSION_OVERLAP,
            ),
            **TOO_LARGE,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.SessionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        vehicle, charger = selectors.session_parties_by_code(
            vehicle_code=data["vehicle"], hub_code=data["hub"], charger_code=data["charger"]
        )
        session, created = services.charging_session_record(
            vehicle=vehicle,
            charger=charger,
            started_at=data["started_at"],
            ended_at=data["ended_at"],
            energy_wh=data["energy_wh"],
            start_soc_pct=data.get("start_soc_pct"),
            end_soc_pct=data.get("end_soc_pct"),
            source="api",
            actor=request.user,
        )
        return Response(
            self.SessionOutputSerializer(session).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- Charging plans -------------------------------------------------------------------------


class ChargingPlanSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    hub = serializers.CharField(source="hub.code")
    status = serializers.CharField()
    horizon_start = serializers.DateTimeField()
    horizon_end = serializers.DateTimeField()
    slot_minutes = serializers.IntegerField()
    power_cap_w = serializers.IntegerField()
    currency = serializers.CharField()
    vehicle_count = serializers.IntegerField()
    short_vehicle_count = serializers.IntegerField()
    shortfall_wh = serializers.IntegerField()
    energy_wh = serializers.IntegerField(help_text="Into the batteries")
    grid_energy_wh = serializers.IntegerField(help_text="Drawn from the grid")
    cost_minor = serializers.IntegerField()
    peak_w = serializers.IntegerField()
    naive_cost_minor = serializers.IntegerField(help_text="Had every vehicle charged on arrival")
    naive_peak_w = serializers.IntegerField()
    solver = serializers.CharField()
    solver_status = serializers.CharField()
    solve_ms = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    solved_at = serializers.DateTimeField(allow_null=True)


class ChargingPlanCreateApi(APIView):
    permission_classes = [require_perms("fleet.plan_charging")]

    class ChargeRequestInputSerializer(StrictSerializer):
        vehicle = serializers.CharField(help_text="Vehicle code")
        energy_need_wh = serializers.IntegerField(
            min_value=0,
            max_value=MAX_ENERGY_NEED_WH,
            required=False,
            allow_null=True,
            help_text="Energy tomorrow's route needs; empty: charge to a full battery",
        )
        available_from = AwareDateTimeField(required=False, allow_null=True)
        ready_by = AwareDateTimeField(required=False, allow_null=True)
        soc_pct = StrictFloatField(
            min_value=0,
            max_value=100,
            required=False,
            allow_null=True,
            help_text="State of charge on arrival; empty: the last one telematics reported",
        )

    class PlanRequestInputSerializer(StrictSerializer):
        hub = serializers.CharField(help_text="Hub code")
        vehicles = serializers.ListField(
            child=serializers.DictField(),
            required=False,
            help_text="Only these vehicles, with these inputs; empty: every electric vehicle",
        )

    @extend_schema(
        operation_id="fleet_charging_plans_request",
        tags=["fleet: charging"],
        summary="Plan a hub's charging for the coming night",
        description=(
            "Stores the inputs and answers 202 at once; the optimiser runs in the background "
            "(`fleet.plan_charging`). Poll the plan's URL until its status is `ready`, "
            "`shortfall` (vehicles that cannot reach their target are named, with the "
            "missing Wh and why) or `failed`."
        ),
        request=PlanRequestInputSerializer,
        responses={
            202: ChargingPlanSummarySerializer,
            **COMMON_PROBLEMS,
            400: invalid_input(
                FleetErrorCode.NO_CHARGING_SITE,
                FleetErrorCode.NO_VEHICLES,
                FleetErrorCode.TARIFF_INCOMPLETE,
            ),
            **TOO_LARGE,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.PlanRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hub = selectors.hub_by_code(code=serializer.validated_data["hub"])
        requests = None
        if "vehicles" in serializer.validated_data:
            requests = self._charge_requests(hub, serializer.validated_data["vehicles"])
        plan = services.charging_plan_request(
            hub=hub, requests=requests, source="api", actor=request.user
        )
        url = reverse("api:fleet:charging-plan-detail", args=[plan.pk])
        return Response(
            ChargingPlanSummarySerializer(plan).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )

    def _charge_requests(self, hub: Hub, items: list[dict]) -> list[services.ChargeRequest]:
        rows = self.ChargeRequestInputSerializer(data=items, many=True)
        if not rows.is_valid():
            raise serializers.ValidationError({"vehicles": rows.errors})
        codes = [row["vehicle"] for row in rows.validated_data]
        ids = selectors.hub_vehicle_ids(hub=hub, codes=codes)
        return [
            services.ChargeRequest(
                vehicle_id=ids[row["vehicle"]],
                energy_need_wh=row.get("energy_need_wh"),
                available_from=row.get("available_from"),
                ready_by=row.get("ready_by"),
                soc_pct=row.get("soc_pct"),
            )
            for row in rows.validated_data
        ]


class PlanSlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    power_w = serializers.IntegerField(help_text="Grid-side power in this slot")


class ChargingPlanVehicleSerializer(serializers.Serializer):
    vehicle = serializers.CharField(source="vehicle.code")
    charger = serializers.CharField(source="charger.code", allow_null=True)
    available_from = serializers.DateTimeField()
    ready_by = serializers.DateTimeField()
    start_soc_pct = serializers.DecimalField(max_digits=4, decimal_places=1)
    soc_assumed = serializers.BooleanField()
    target_energy_wh = serializers.IntegerField()
    route_energy_wh = serializers.IntegerField(allow_null=True)
    need_wh = serializers.IntegerField()
    planned_wh = serializers.IntegerField()
    shortfall_wh = serializers.IntegerField()
    shortfall_reason = serializers.ChoiceField(choices=ShortfallReason.choices, allow_blank=True)
    cost_minor = serializers.IntegerField()
    slots = serializers.SerializerMethodField()

    @extend_schema_field(PlanSlotSerializer(many=True))
    def get_slots(self, row: ChargingPlanVehicle) -> list[dict]:
        plan: ChargingPlan = self.context["plan"]
        return [
            {"starts_at": plan.slot_start(slot.slot_index), "power_w": slot.power_w}
            for slot in row.slots.all()
        ]


class ChargingPlanDetailApi(APIView):
    permission_classes = [require_perms("fleet.view_chargingplan")]

    class PlanDetailOutputSerializer(ChargingPlanSummarySerializer):
        vehicles = ChargingPlanVehicleSerializer(many=True)

    @extend_schema(
        operation_id="fleet_charging_plans_retrieve",
        tags=["fleet: charging"],
        summary="A charging plan: per vehicle its charger, power per slot and any shortfall",
        responses={200: PlanDetailOutputSerializer, **COMMON_PROBLEMS},
    )
    def get(self, request: Request, plan_id: int) -> Response:
        plan = charging_plan_get(plan_id=plan_id)
        return Response(self.PlanDetailOutputSerializer(plan, context={"plan": plan}).data)
