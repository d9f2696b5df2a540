"""Settings: cache and sessions in slotkv, through slotkv-router, with Django's built-in Redis cache.

The router makes the whole cluster look like one Redis, so the stock `RedisCache` backend (a plain
redis-py client that knows nothing of slots) works unchanged. Every app server points at the router;
they share sessions (logins) and cache because they share the cluster.
"""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["django.contrib.sessions"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
ROOT_URLCONF = "sessions_demo.urls"
WSGI_APPLICATION = "sessions_demo.wsgi.application"
DATABASES = {}  # nothing here needs a database: sessions live in the cache

# SLOTKV_URL: the router (slotkv up starts one on 7100).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("SLOTKV_URL", "redis://127.0.0.1:7100"),
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
USE_TZ = True
