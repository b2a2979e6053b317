"""Error codes of the fleet app (values stable: clients and forms branch on them)."""

from lastmile.core.errors import BaseErrorCode


class FleetErrorCode(BaseErrorCode):
    """Codes the fleet services and selectors give."""

    VEHICLE_RETIRED = "vehicle_retired", "A retired vehicle cannot get a device"
    DEVICE_REVOKED = "device_revoked", "A revoked device cannot get a new token"
    SESSION_EXISTS = "session_exists", "The charger has another vehicle's session starting then"
    SESSION_OVERLAP = "session_overlap", "Overlaps another session of the charger or the vehicle"
    TARIFF_INCOMPLETE = "tariff_incomplete", "The site's tariff lacks a price for some hours"
    NO_CHARGING_SITE = "no_charging_site", "The hub has no charging site (power cap, tariff)"
    # Also dispatch's: a day with orders cannot be planned without a vehicle.
    NO_VEHICLES = "no_vehicles", "The hub has no active vehicle for this (to plan or to charge)"
