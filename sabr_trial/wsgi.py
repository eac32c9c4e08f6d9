"""WSGI entry point (gunicorn sabr_trial.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sabr_trial.settings")
application = get_wsgi_application()
