"""The driver API's shared shapes: a route, a stop, an offer, and the courier's position.

Each operation's own input and output serializers stay nested in its view; these are the
pieces several operations render or accept alike.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class RouteSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    service_date = serializers.DateField(source="plan.service_date")
    hub = serializers.CharField(source="plan.hub.code")
    vehicle = serializers.CharField(source="vehicle.code")
    status = serializers.CharField()
    planned_start = serializers.DateTimeField()
    planned_end = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    distance_m = serializers.IntegerField()
    # "fallback": the routing server failed, the ETAs are a straight-line estimate.
    eta_source = serializers.CharField()
    etas_refreshed_at = serializers.DateTimeField(allow_null=True)


class StopSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sequence = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    order_reference = serializers.CharField(source="order.external_reference", default=None)
    recipient_name = serializers.CharField(source="order.recipient_name", default=None)
    address = serializers.CharField(source="order.address", default=None)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6)
    window_start = serializers.DateTimeField(allow_null=True)
    window_end = serializers.DateTimeField(allow_null=True)
    planned_arrival = serializers.DateTimeField()
    eta = serializers.DateTimeField(allow_null=True)
    actual_arrival = serializers.DateTimeField(allow_null=True)
    actual_departure = serializers.DateTimeField(allow_null=True)


class StopUpdateOutputSerializer(serializers.Serializer):
    route_status = serializers.CharField()
    stop = StopSerializer()


class PositionInputSerializer(serializers.Serializer):
    """Where the courier is, optional (both or neither); the ETAs ahead start from there."""

    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("latitude" in attrs) != ("longitude" in attrs):
            raise serializers.ValidationError(
                {"latitude": ["Give both latitude and longitude, or neither."]}
            )
        return attrs


class OfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    route = RouteSummarySerializer()
