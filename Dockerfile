# One image for web, Celery worker and Celery beat.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_BUILD_CONSTRAINT=/app/requirements/build-constraints.txt PIP_CONSTRAINT=/app/requirements/build-constraints.txt
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-noto-cjk gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY . .
RUN pip install --upgrade pip "setuptools<81" && pip install .
RUN DJANGO_DEBUG=1 python manage.py compilemessages --ignore=.venv \
    && DJANGO_DEBUG=1 python manage.py collectstatic --noinput
RUN useradd --system --home /app edc && mkdir -p /app/var && chown -R edc /app/var
USER edc
EXPOSE 8000
CMD ["gunicorn", "sabr_trial.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
