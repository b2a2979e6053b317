from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "lastmile.project"
    label = "project"
    verbose_name = "Project"
