from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "fleet"
    label = "fleet"
    verbose_name = "Fleet and charging"

    def ready(self) -> None:
        # Orders check parcels against what the hub's vehicles carry; orders may not import
        # the fleet, so the fleet hands it the selector.
        from fleet.selectors import hub_largest_capacity
        from lastmile.orders.plausibility import register_capacity_provider

        register_capacity_provider(hub_largest_capacity)
