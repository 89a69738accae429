# Django in one file, its sessions on the database (SQLite) or, with
# SESSION_ENGINE=django.contrib.sessions.backends.signed_cookies in the environment, in a
# signed cookie. Django's defaults otherwise (sessionid, startproject's middleware that needs
# no other app).
# Run: python app.py migrate && python app.py runserver --noreload 127.0.0.1:PORT
# (DJANGO_DB names the SQLite file, db.sqlite3 by default.)
import os
import sys

from django.conf import settings

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
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("DJANGO_DB", "db.sqlite3"),
        }
    },
    SESSION_ENGINE=os.environ.get("SESSION_ENGINE", "django.contrib.sessions.backends.db"),
)

from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.html import escape  # noqa: E402


def index(request):
    request.session["views"] = request.session.get("views", 0) + 1
    return HttpResponse(f"Number of views {request.session['views']}")


def login(request):
    # What django.contrib.auth.login() does for a session: a new key, the data kept.
    request.session.cycle_key()
    request.session["user"] = request.GET.get("user", "")
    return HttpResponse(f"Logged in as {escape(request.session['user'])}")


def logout(request):
    # What django.contrib.auth.logout() does: the session deleted and its cookie with it.
    request.session.flush()
    return HttpResponse("Logged out")


urlpatterns = [path("", index), path("login", login), path("logout", logout)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
