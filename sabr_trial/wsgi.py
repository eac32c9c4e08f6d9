"""WSGI entry point (gunicorn sabr_trial.wsgi; runserver loads it too)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sabr_trial.settings")
application = get_wsgi_application()

from sabr_trial import warmup  # noqa: E402  (the apps are ready only now)

warmup.run()
