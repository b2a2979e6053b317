from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "lastmile.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        # A mistyped check level must stop the start, not silently turn a check off.
        from django.conf import settings

        from lastmile.orders.plausibility import check_levels

        check_levels(settings.ORDER_CHECK_LEVELS)
