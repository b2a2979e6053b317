"""Writes of the fleet. Import services from here."""

from fleet.services.charging import (
    charger_create,
    charging_session_check,
    charging_session_record,
    charging_site_create,
    session_cost_minor,
    tariff_create,
    tariff_set_prices,
)
from fleet.services.devices import device_create, device_revoke, device_rotate_token
from fleet.services.plans import (
    ChargeRequest,
    charging_plan_fail,
    charging_plan_request,
    charging_plan_solve,
    charging_plans_sweep,
)
from fleet.services.telematics import (
    IngestResult,
    PingInput,
    PruneResult,
    pings_ingest,
    pings_prune,
)
from fleet.services.vehicles import (
    EDITABLE_FIELDS,
    RETIRE_INSTEAD,
    vehicle_create,
    vehicle_delete,
    vehicle_retire,
    vehicle_return_to_service,
    vehicle_send_to_maintenance,
    vehicle_type_create,
    vehicle_update,
)

__all__ = [
    "EDITABLE_FIELDS",
    "RETIRE_INSTEAD",
    "ChargeRequest",
    "IngestResult",
    "PingInput",
    "PruneResult",
    "charger_create",
    "charging_plan_fail",
    "charging_plan_request",
    "charging_plan_solve",
    "charging_plans_sweep",
    "charging_session_check",
    "charging_session_record",
    "charging_site_create",
    "device_create",
    "device_revoke",
    "device_rotate_token",
    "pings_ingest",
    "pings_prune",
    "session_cost_minor",
    "tariff_create",
    "tariff_set_prices",
    "vehicle_create",
    "vehicle_delete",
    "vehicle_retire",
    "vehicle_return_to_service",
    "vehicle_send_to_maintenance",
    "vehicle_type_create",
    "vehicle_update",
]
