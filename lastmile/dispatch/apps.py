from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "lastmile.dispatch"
    label = "dispatch"
    verbose_name = "Dispatch"

    def ready(self) -> None:
        from lastmile.dispatch.portal.home import today_panel
        from workforce.panels import home_panel_register

        # The courier's home (a workforce page) leads with today's route and open offers.
        home_panel_register(today_panel)
