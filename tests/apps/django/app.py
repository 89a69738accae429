# Django in one file with its database sessions (django.contrib.sessions, the `sessionid`
# cookie, rows in django_session), on SQLite or PostgreSQL (psycopg 3). Django's defaults
# otherwise (startproject's middleware that needs no other app). Login does what
# django.contrib.auth.login() does to a session (cycle_key: a new key, the data kept); logout
# what logout() does (flush: the row deleted, the cookie expired). POST /logout is exempt from
# CSRF so that it can be driven without a form token.
# Started by tests/apps/run.sh django: python app.py, which migrates (creates the tables), then
# serves with Django's own threaded WSGI server in one process, no autoreload.
# Env: PORT (default 8000) and one of DJANGO_SQLITE=/path/db.sqlite3 or
# DJANGO_POSTGRES=postgres://USER[:PASSWORD]@HOST:PORT/DBNAME (default: SQLite db.sqlite3 in
# the working directory).
import os
import sys
from urllib.parse import unquote, urlsplit

from django.conf import settings


def database():
    url = os.environ.get("DJANGO_POSTGRES")
    if url:
        u = urlsplit(url)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(u.path.lstrip("/")) or "postgres",
            "USER": unquote(u.username or ""),
            "PASSWORD": unquote(u.password or ""),
            "HOST": u.hostname or "",
            "PORT": str(u.port or ""),
        }
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("DJANGO_SQLITE", "db.sqlite3")}


settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="replace this value with a random secret",
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.sessions"],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    DATABASES={"default": database()},
    SESSION_ENGINE="django.contrib.sessions.backends.db",
)

from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.html import escape  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def index(request):
    request.session["views"] = request.session.get("views", 0) + 1
    return HttpResponse(f"Number of views {request.session['views']}")


def login(request):
    # What django.contrib.auth.login() does for a session: a new key, the data kept.
    request.session.cycle_key()
    request.session["user"] = request.GET.get("user", "")
    return HttpResponse(f"Logged in as {escape(request.session['user'])}")


@csrf_exempt
def logout(request):
    # What django.contrib.auth.logout() does: the session deleted and its cookie with it.
    request.session.flush()
    return HttpResponse("Logged out")


urlpatterns = [path("", index), path("login", login), path("logout", logout)]


def serve(port):
    import django
    from django.core.management import call_command
    from django.core.servers.basehttp import get_internal_wsgi_application, run

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    # What `runserver --noreload` does (threaded), without its checks and banner.
    run("127.0.0.1", port, get_internal_wsgi_application(), threading=True,
        on_bind=lambda p: print(f"django app listening on http://127.0.0.1:{p}/", flush=True))


if __name__ == "__main__":
    if len(sys.argv) > 1:  # a management command, e.g. `python app.py migrate`
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    else:
        serve(int(os.environ.get("PORT", "8000")))
