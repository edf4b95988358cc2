"""Browser pages: the widget demo host page (/), the embeddable /widget.js, and the agent console (/agent)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, send_from_directory, session, url_for

from web.service import ChatInputError

bp = Blueprint("pages", __name__)  # templates and /static come from the app (web/templates, web/static)
STATIC = Path(__file__).parent / "static"
# The only routes a widget on another site calls; everything else stays same-origin.
CORS_ENDPOINTS = {"api.chat", "api.messages", "api.feedback", "api.rating"}
# Pages load only their own scripts and styles; the widget's styles live in its shadow root (CSSOM, not inline).
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def allowed_origins() -> list[str]:
    """HOTLINE_CORS_ORIGINS: "*" (default) or a comma-separated list of sites that may embed the widget."""
    raw = current_app.config["HOTLINE"].cors_origins or "*"
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]


@bp.after_app_request
def _cors(response):
    """CORS for the public chat routes only; agent routes (cookie auth) never get these headers."""
    if request.endpoint not in CORS_ENDPOINTS:
        return response
    origins = allowed_origins()
    origin = request.headers.get("Origin", "")
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    else:
        return response
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _page(template: str, status: int = 200, **context):
    response = current_app.make_response((render_template(template, **context), status))
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if template.startswith("agent"):
        response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None, default: str = "/agent") -> str:
    """Only a path on this site (no scheme, no host, no "//evil"), so login cannot redirect elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def _logged_in() -> bool:
    try:
        current_app.extensions["agent_service"].authenticate(session.get("agent_token"))
    except ChatInputError:
        return False
    return True


@bp.get("/")
def demo():
    """A sample government page that embeds the widget with one script tag."""
    return _page("demo.html")


@bp.get("/widget.js")
def widget_js():
    response = send_from_directory(STATIC / "widget", "widget.js", mimetype="application/javascript", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"  # a public script, loaded by other sites
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/agent")
def console():
    if not _logged_in():
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    from kb.model import DISTRICTS, LINES

    return _page("agent.html", districts=DISTRICTS, lines=LINES)


@bp.get("/agent/login")
def login():
    return _page("agent_login.html", next_url=safe_next(request.args.get("next")))
