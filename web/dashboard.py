"""Supervisor dashboard: the /dashboard page, one JSON endpoint per figure, and CSV export of every table."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request

from web.agent_api import current_agent
from web.analytics import BUCKETS, CHANNEL_LABELS, FIGURES, LOCAL_TZ, Filters, Table, compute, to_utc
from web.service import CHANNELS, ChatInputError

bp = Blueprint("dashboard", __name__)
MAX_DAYS = 366
MAX_HOURLY_DAYS = 31
DEFAULT_DAYS = 7


def _date_arg(name: str, default: date, args) -> date:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ChatInputError(f"invalid_{name}", f"{name} 日期格式应为 YYYY-MM-DD，收到 {raw[:20]!r}") from None


def parse_filters(defaults_only: bool = False) -> tuple[Filters, dict]:
    """Filters from ?start=&end=&channel=&bucket= (local dates, end inclusive; default the last 7 days, by day)."""
    args = {} if defaults_only else request.args
    today = datetime.now(LOCAL_TZ).date()
    end = _date_arg("end", today, args)
    start = _date_arg("start", end - timedelta(days=DEFAULT_DAYS - 1), args)
    if start > end:
        raise ChatInputError("invalid_range", f"开始日期 {start} 晚于结束日期 {end}")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise ChatInputError("invalid_range", f"日期范围最多 {MAX_DAYS} 天，当前为 {days} 天")
    channel = args.get("channel", "").strip() or None
    if channel in ("all", "全部"):
        channel = None
    if channel is not None and channel not in CHANNELS:
        raise ChatInputError("invalid_channel", f"未知渠道 {channel[:20]!r}，可选：{'、'.join(CHANNELS)}（不填为全部）")
    bucket = args.get("bucket", "").strip() or "day"
    if bucket not in BUCKETS:
        raise ChatInputError("invalid_bucket", f"bucket 可选：hour（按小时）、day（按天），收到 {bucket[:20]!r}")
    if bucket == "hour" and days > MAX_HOURLY_DAYS:
        raise ChatInputError("invalid_range", f"按小时统计时日期范围最多 {MAX_HOURLY_DAYS} 天，当前为 {days} 天")
    echo = {"start": start.isoformat(), "end": end.isoformat(), "channel": channel, "bucket": bucket}
    return Filters(to_utc(start), to_utc(end, end=True), channel, bucket), echo


def _sessions():
    return current_app.extensions["chat_service"].sessions


def _plain(value):
    return float(value) if isinstance(value, Decimal) else value


def _cell(value):
    """A CSV cell; text that Excel would run as a formula (=, +, -, @ first) is kept as text with a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return _plain(value)


def csv_response(name: str, table: Table, echo: dict) -> Response:
    """The table as CSV, UTF-8 with a BOM so that Excel shows the Chinese correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(table.columns)
    writer.writerows([[_cell(v) for v in row] for row in table.rows])
    filename = f"dashboard-{name}-{echo['start']}-{echo['end']}{'-' + echo['channel'] if echo['channel'] else ''}.csv"
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/dashboard")
def page():
    try:
        agent = current_agent(roles=("supervisor",))
    except ChatInputError as exc:
        if exc.status == 401:
            return redirect("/agent/login?next=" + quote(request.full_path.rstrip("?"), safe="/"))
        return _page(render_template("dashboard_denied.html", message=exc.message), exc.status)
    try:
        _, echo = parse_filters()
        error = None
    except ChatInputError as exc:  # a hand-edited address: show why, with the default filters
        error, echo = exc.message, parse_filters(defaults_only=True)[1]
    figures = [{"name": name, "title": fig.title, "chart": fig.chart} for name, fig in FIGURES.items()]
    return _page(render_template("dashboard.html", agent=agent, filters=echo, figures=figures, error=error,
                                 channels=[(c, CHANNEL_LABELS.get(c, c)) for c in CHANNELS]), 400 if error else 200)


def _page(body: str, status: int = 200) -> Response:
    """The page loads only its own script and styles (the same policy as the other pages)."""
    from web.pages import PAGE_CSP

    return Response(body, status, mimetype="text/html", headers={
        "Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY", "Cache-Control": "no-store"})


@bp.get("/api/dashboard")
def index():
    current_agent(roles=("supervisor",))
    _, echo = parse_filters()
    return jsonify({"filters": echo, "channels": list(CHANNELS), "buckets": list(BUCKETS),
                    "figures": [{"name": n, "title": f.title, "chart": f.chart} for n, f in FIGURES.items()]})


@bp.get("/api/dashboard/<name>")
def figure(name: str):
    current_agent(roles=("supervisor",))
    if name not in FIGURES:
        raise ChatInputError("unknown_figure", f"没有图表 {name[:40]!r}，可选：{'、'.join(FIGURES)}", 404)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ChatInputError("invalid_format", f"format 可选：json、csv，收到 {fmt[:20]!r}")
    f, echo = parse_filters()
    table = compute(_sessions(), name, f)
    if fmt == "csv":
        return csv_response(name, table, echo)
    response = jsonify({"figure": name, "title": FIGURES[name].title, "chart": FIGURES[name].chart, "filters": echo,
                        "columns": table.columns, "rows": [[_plain(v) for v in row] for row in table.rows]})
    response.headers["Cache-Control"] = "no-store"  # supervisors' data: not kept by browsers or proxies
    return response
