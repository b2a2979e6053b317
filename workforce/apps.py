from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "workforce"
    label = "workforce"
    verbose_name = "Workforce"

    def ready(self) -> None:
        from workforce import checks  # noqa: F401 - registers the system checks
