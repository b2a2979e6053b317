"""The last-mile back-office: the Django project and the core delivery domain."""

from lastmile.celery import app as celery_app

__all__ = ("celery_app",)
