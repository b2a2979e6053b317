from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "lastmile.orders"
    label = "orders"
    verbose_name = "Orders"
