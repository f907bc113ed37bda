# Production-shaped image: gunicorn serving Django, static files via whitenoise.
# The same image runs the Celery worker and beat (see docker-compose.yml).

FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json Makefile ./
RUN npm ci --no-audit --no-fund --loglevel=error
RUN apt-get update -qq && apt-get install -y -qq make >/dev/null && make static/vendor/.built

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY . .
COPY --from=assets /src/static/vendor ./static/vendor
# collectstatic reads settings, which fail closed: a build-time key and host, never served.
RUN DJANGO_SECRET_KEY=build-only-key-never-served-0123456789-abcdefghijklmnopqrstuvwxyz \
    DJANGO_ALLOWED_HOSTS=build.invalid python manage.py collectstatic --noinput
RUN useradd --create-home app && mkdir -p /app/media && chown app /app/media
USER app
EXPOSE 8000
ENV GUNICORN_BIND=0.0.0.0:8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"]
