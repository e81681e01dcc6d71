"""The development error page's HTML, from the masked report of ``debug_page.report_of``.

Every value goes through ``e()`` (``html.escape`` with quotes) on its way in:
the request, the session and the exception message can all carry what an
attacker typed. No script: folding uses ``<details>``, and the styles are inline,
so the page needs nothing from the network.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

STYLE = """
:root { color-scheme: light; --ink: #1d2127; --muted: #5d6673; --line: #e3e6ea;
  --accent: #b42318; --wash: #fef3f2; --code: #f6f8fa; --mark: #fff1c2; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: #fff; }
header { background: var(--wash); border-bottom: 3px solid var(--accent); padding: 24px 32px; }
.status { margin: 0; color: var(--accent); font-weight: 600; font-size: 13px;
  letter-spacing: .04em; text-transform: uppercase; }
h1 { margin: 6px 0 4px; font-size: 26px; }
.message { margin: 0; font-size: 18px; white-space: pre-wrap; word-break: break-word; }
.where { margin: 10px 0 0; color: var(--muted); }
main { padding: 8px 32px 32px; max-width: 1100px; }
h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid var(--line);
  padding-bottom: 6px; }
h2 small, .relation { color: var(--muted); font-weight: normal; }
code, pre { font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { margin: 0; background: var(--code); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 0; overflow-x: auto; }
.line { display: block; padding: 0 12px; white-space: pre; }
.line.here { background: var(--mark); font-weight: 600; }
.number { display: inline-block; min-width: 3.5em; color: var(--muted); user-select: none; }
details { margin: 6px 0; }
summary { cursor: pointer; padding: 4px 0; }
summary .file { color: var(--muted); }
details.library summary { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 10px;
  border-bottom: 1px solid var(--line); }
th { width: 22%; font-weight: 600; white-space: nowrap; }
td { word-break: break-word; }
td pre { padding: 6px 10px; white-space: pre-wrap; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 36px; color: var(--muted); font-size: 13px; }
"""


# The page's own policy: its one inline stylesheet, by hash, and nothing else. Should
# escaping ever miss, no script, image or form of the request's could load or run.
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def code_block(code: Iterable[tuple[int, str]], here: int) -> str:
    rows = "".join(
        f'<span class="line{" here" if number == here else ""}">'
        f'<span class="number">{number}</span>{e(text)}</span>'
        for number, text in code
    )
    return f"<pre>{rows}</pre>" if rows else '<p class="empty">(source not available)</p>'


def frame_html(frame: Mapping[str, Any]) -> str:
    kind = "user" if frame["user"] else "library"
    opened = " open" if frame["user"] else ""
    summary = (
        f"<summary><code>{e(frame['function'])}</code> "
        f'<span class="file">{e(frame["file"])}:{e(frame["line"])}</span></summary>'
    )
    code = code_block(frame["code"], frame["line"])
    return f'<details class="{kind}"{opened}>{summary}{code}</details>'


def shown(value: Any) -> str:
    """A value for a table cell: text as it is, anything else as indented JSON."""
    if isinstance(value, str):
        return f"<pre>{e(value)}</pre>"
    text = orjson.dumps(value, default=repr, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    return f"<pre>{e(text.decode())}</pre>"


def table(rows: Iterable[tuple[Any, Any]], *, empty: str) -> str:
    cells = "".join(f"<tr><th>{e(name)}</th><td>{shown(value)}</td></tr>" for name, value in rows)
    return f"<table>{cells}</table>" if cells else f'<p class="empty">{e(empty)}</p>'


def failures_html(failures: list[Mapping[str, Any]]) -> str:
    parts = []
    for index, failure in enumerate(failures):
        if index:
            parts.append(
                f'<h2><span class="relation">{e(failure["relation"])}</span> '
                f"{e(failure['error'])}: {e(failure['message'])}</h2>"
            )
        else:
            parts.append("<h2>Traceback <small>most recent call last</small></h2>")
        parts.extend(frame_html(frame) for frame in failure["frames"])
    return "".join(parts)


def request_html(request: Mapping[str, Any]) -> str:
    summary = table(
        [("Method", request["method"]), ("URL", request["url"]), ("Client", request["client"])],
        empty="",
    )
    return (
        f"<h2>Request</h2>{summary}"
        f"<h2>Route parameters</h2>{table(request['params'].items(), empty='None.')}"
        f"<h2>Query</h2>{table(request['query'].items(), empty='None.')}"
        f"<h2>Body</h2>{body_html(request['data'])}"
        f"<h2>Headers</h2>{table(request['headers'], empty='None.')}"
    )


def body_html(data: Any) -> str:
    if data is None:
        return '<p class="empty">None.</p>'
    if isinstance(data, dict):
        return table(data.items(), empty="Empty.")
    return shown(data)


def session_html(session: Mapping[str, Any] | None) -> str:
    if session is None:
        return (
            '<h2>Session</h2><p class="empty">Not loaded: sessions are off, or the error came '
            "before the session was read.</p>"
        )
    return f"<h2>Session</h2>{table(session.items(), empty='Empty.')}"


def render_html(report: Mapping[str, Any]) -> str:
    where = report["where"]
    located = (
        f'<p class="where">in <code>{e(where["function"])}</code>, '
        f"<code>{e(where['file'])}</code> line {e(where['line'])}</p>"
        if where
        else ""
    )
    user_frame = next(
        (frame for frame in reversed(report["failures"][0]["frames"]) if frame["user"]),
        None,
    )
    your_code = (
        f"<h2>Your code <small>where it failed</small></h2>"
        f"{code_block(user_frame['code'], user_frame['line'])}"
        if user_frame is not None
        else ""
    )
    title = f"{report['error']}: {report['message']}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title[:200])}</title><style>{STYLE}</style></head><body>"
        '<header><p class="status">500 Internal Server Error · development</p>'
        f'<h1>{e(report["error"])}</h1><p class="message">{e(report["message"])}</p>'
        f"{located}</header><main>{your_code}{failures_html(report['failures'])}"
        f"{request_html(report['request'])}{session_html(report['session'])}"
        "<footer>porch shows this page because <code>env</code> is not <code>production</code>; "
        "in production the reply is a plain “Internal Server Error” and the traceback goes "
        f"to the log only. Secrets, cookies and credentials are masked. Python "
        f"{e(report['python'])}.</footer></main></body></html>"
    )
