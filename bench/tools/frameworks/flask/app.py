# Flask's default session: the whole session in one cookie (`session`) signed with
# itsdangerous, no id and no server-side store. Flask's defaults otherwise.
# Run: flask --app app.py run --host 127.0.0.1 --port PORT
from flask import Flask, request, session
from markupsafe import escape

app = Flask(__name__)
app.secret_key = b"replace this value with a random secret"


@app.get("/")
def index():
    session["views"] = session.get("views", 0) + 1
    return f"Number of views {session['views']}"


@app.get("/login")
def login():
    session["user"] = request.args.get("user", "")
    return f"Logged in as {escape(session['user'])}"


@app.get("/logout")
def logout():
    session.clear()
    return "Logged out"
