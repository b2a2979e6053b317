"""WSGI entry point (gunicorn ``lastmile.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lastmile.settings")

application = get_wsgi_application()
