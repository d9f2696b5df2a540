"""Three views: count this session's visits, log in (a name in the session), log out.

Each reply says which app server answered, so alternating servers shows the session is shared.
"""
import os

from django.core.cache import cache
from django.http import JsonResponse


def _server():
    return os.environ.get("APP_NAME", "app")


def visits(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    # The cache too: a site-wide counter every app server increments.
    cache.add("site-hits", 0)
    hits = cache.incr("site-hits")
    return JsonResponse(
        {
            "server": _server(),
            "user": request.session.get("user"),
            "visits": request.session["visits"],
            "site_hits": hits,
        }
    )


def login(request):
    user = request.GET.get("user", "")
    if not user:
        return JsonResponse({"error": "give ?user=NAME"}, status=400)
    request.session.cycle_key()  # a new session id at login, as django.contrib.auth does
    request.session["user"] = user
    return JsonResponse({"server": _server(), "user": user})


def logout(request):
    request.session.flush()
    return JsonResponse({"server": _server(), "user": None})
