# Flask with Flask-Session's server-side sessions in Redis (redis-py), Flask-Session's defaults
# otherwise: a bare random session id in the `session` cookie (no signer), the data stored as
# MessagePack under PREFIX + id with the permanent session lifetime (31 days) as TTL. Login
# regenerates the id as Flask-Session's docs advise (session_interface.regenerate); logout
# clears the session, which deletes the record and the cookie.
# Started by tests/apps/run.sh flask-redis: python app.py, served by Werkzeug's threaded server
# in one process, no reloader. Env: PORT (default 5000), REDIS_URL (default
# redis://127.0.0.1:6379), PREFIX (SESSION_KEY_PREFIX, default `session:`).
import os

from flask import Flask, request, session
from flask_session import Session
from markupsafe import escape
from redis import Redis

app = Flask(__name__)
app.secret_key = b"replace this value with a random secret"
app.config.update(
    SESSION_TYPE="redis",
    SESSION_REDIS=Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")),
    SESSION_KEY_PREFIX=os.environ.get("PREFIX", "session:"),
)
Session(app)


@app.get("/")
def index():
    session["views"] = session.get("views", 0) + 1
    return f"Number of views {session['views']}"


@app.get("/login")
def login():
    app.session_interface.regenerate(session)  # a new id against session fixation
    session["user"] = request.args.get("user", "")
    return f"Logged in as {escape(session['user'])}"


@app.route("/logout", methods=["GET", "POST"])
def logout():
    session.clear()
    return "Logged out"


if __name__ == "__main__":
    from werkzeug.serving import make_server

    port = int(os.environ.get("PORT", "5000"))
    app.config["SESSION_REDIS"].ping()  # fail at start, not at the first request
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"flask-redis app listening on http://127.0.0.1:{port}/", flush=True)
    server.serve_forever()
