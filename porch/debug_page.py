"""The development error page: an unhandled exception shown to the developer, never in production.

``App.default_error`` calls ``development_error`` only when ``env`` is not
``production``; in production the body is "Internal Server Error" and the
traceback goes to the log alone. What the client asked for decides the form:

- a browser (``Accept: text/html``) gets an HTML page: the exception, the
  user's own frame first (the deepest frame outside porch, the standard library
  and installed packages) with its source, the whole traceback below (library
  frames folded), earlier exceptions of the chain, the request and the session;
- a client that asks for JSON (``Accept: application/json``) gets the same as JSON;
- anyone else (curl, tests) gets the plain-text traceback.

Everything shown passes through ``debug_mask.Masker`` (secrets, cookies,
credentials), and everything put into the HTML is escaped: the request is the
attacker's, and so can be the exception message.
"""

from __future__ import annotations

import linecache
import sys
import sysconfig
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.responses import Response

from .debug_mask import MASK, Masker, clip, hidden_values
from .debug_template import POLICY, render_html
from .errors import UnserializableValue
from .reply import TEXT, reason

if TYPE_CHECKING:
    from .context import Context

CONTEXT_LINES = 3
USER_CONTEXT_LINES = 5
CHAIN_LIMIT = 5
URL_HEADERS = frozenset({"referer", "origin"})  # URLs whose query may carry a token

# Where library code lives: porch itself, the standard library, installed packages.
LIBRARY_ROOTS = tuple(
    {
        str(Path(__file__).resolve().parent),
        *(
            str(Path(path).resolve())
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (path := sysconfig.get_paths().get(key))
        ),
    }
)


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    function: str
    code: list[tuple[int, str]]  # (line number, source line) around ``line``
    user: bool


@dataclass(frozen=True)
class Failure:
    error: str  # the exception's type, qualified unless it is a builtin
    message: str
    frames: list[Frame]
    relation: str  # how it relates to the one shown above it ("" for the first)


def is_user_file(filename: str) -> bool:
    if filename.startswith("<"):  # <string>, <frozen importlib._bootstrap>
        return False
    resolved = str(Path(filename).resolve())
    return not any(resolved.startswith(root + "/") for root in LIBRARY_ROOTS) and (
        "site-packages" not in resolved
    )


def source_around(filename: str, line: int, width: int, masker: Masker) -> list[tuple[int, str]]:
    lines = []
    for number in range(max(1, line - width), line + width + 1):
        text = linecache.getline(filename, number)
        if text:
            lines.append((number, masker.text(text.rstrip("\n"))))
    return lines


def frames_of(exc: BaseException, masker: Masker) -> list[Frame]:
    frames = []
    for summary in traceback.extract_tb(exc.__traceback__):
        user = is_user_file(summary.filename)
        width = USER_CONTEXT_LINES if user else CONTEXT_LINES
        line = summary.lineno or 0
        code = source_around(summary.filename, line, width, masker)
        frames.append(Frame(summary.filename, line, summary.name, code, user))
    return frames


def type_name(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def failures_of(exc: BaseException, masker: Masker) -> list[Failure]:
    """The exception, then the ones it was raised from or while handling (newest first)."""
    failures: list[Failure] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    relation = ""
    while current is not None and id(current) not in seen and len(failures) < CHAIN_LIMIT:
        seen.add(id(current))
        message = clip(masker.text(str(current)))
        failures.append(Failure(type_name(current), message, frames_of(current, masker), relation))
        if current.__cause__ is not None:
            relation = "It was raised from:"
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            relation = "It was raised while handling:"
            current = current.__context__
        else:
            current = None
    return failures


def first_user_frame(frames: list[Frame]) -> Frame | None:
    """The deepest frame in the user's code: where their code called into the failure."""
    for frame in reversed(frames):
        if frame.user:
            return frame
    return frames[-1] if frames else None


def request_of(ctx: Context, masker: Masker) -> dict[str, Any]:
    query = parse_qsl(ctx.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    shown_query = [(name, masker.value(name, value)) for name, value in query]
    # Decoded, for reading: the page escapes it, so this is text, never a link or markup.
    url = ctx.path + ("?" + "&".join(f"{name}={value}" for name, value in shown_query)
                      if shown_query else "")  # fmt: skip
    raw_headers = [
        (name, masker.url(value) if name.lower() in URL_HEADERS else value)
        for name, value in (
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in ctx.scope.get("headers", [])
        )
    ]
    client = ctx.scope.get("client")
    return {
        "method": ctx.method,
        "url": clip(masker.text(url)),
        "client": client[0] if client else None,
        "params": masker.walk(ctx.params),
        "query": dict(shown_query),
        "headers": masker.headers(raw_headers),
        "data": body_of(ctx, masker),
    }


def body_of(ctx: Context, masker: Masker) -> Any:
    try:
        data = ctx.data
    except Exception:  # an unreadable body: say so rather than fail the error page
        return "(the body could not be parsed)"
    return masker.walk(data)


def session_of(ctx: Context, masker: Masker) -> dict[str, Any] | None:
    """The session's keys and values (secret-looking ones masked); None before it was loaded."""
    session = ctx.__dict__.get("session")  # not ctx.session: it raises when sessions are off
    if session is None:
        return None
    return {name: masker.value(name, session.get(name)) for name in list(session)}


def masker_for(ctx: Context) -> Masker:
    """Hides the app's secrets (SECRET, the session's own) and this request's credentials."""
    options = ctx.app.options
    app_secrets = options.secret.values
    if options.session is not None:
        app_secrets = (*app_secrets, *options.session.secret.values)
    try:
        cookies = ctx.cookies
    except Exception:  # a Cookie header that does not parse: nothing to hide from it
        cookies = {}
    return Masker(hidden_values(app_secrets, cookies, ctx.headers))


def report_of(ctx: Context, exc: BaseException) -> dict[str, Any]:
    """Everything the page shows, masked, as plain data (the JSON form is exactly this)."""
    masker = masker_for(ctx)
    failures = failures_of(exc, masker)
    where = first_user_frame(failures[0].frames)
    return {
        "error": failures[0].error,
        "message": failures[0].message,
        "where": None if where is None else {
            "file": where.file, "line": where.line, "function": where.function,
        },
        "failures": [asdict(failure) for failure in failures],
        "request": request_of(ctx, masker),
        "session": session_of(ctx, masker),
        "python": sys.version.split()[0],
    }  # fmt: skip


def preferred(accept: str) -> str:
    """'html', 'json' or 'text': the first of HTML and JSON the client ranks higher, by q."""
    best, best_q = "text", 0.0
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        kind = {"text/html": "html", "application/xhtml+xml": "html", "application/json": "json"}
        if media.lower() not in kind:
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:
            best, best_q = kind[media.lower()], q
    return best


def development_error(ctx: Context, exc: BaseException) -> Response:
    """The 500 outside production: HTML, JSON or text, as the client asks (see module docstring)."""
    form = preferred(ctx.headers.get("accept", ""))
    headers = {"cache-control": "no-store"}
    if form == "text":
        return Response(text_body(ctx, exc), 500, media_type=TEXT, headers=headers)
    report = report_of(ctx, exc)
    if form == "json":
        body = orjson.dumps(report, default=repr, option=orjson.OPT_NON_STR_KEYS)
        return Response(body, 500, media_type="application/json", headers=headers)
    headers["content-security-policy"] = POLICY  # kept: porch's headers never replace it
    return Response(render_html(report), 500, media_type="text/html", headers=headers)


def text_body(ctx: Context, exc: BaseException) -> str:
    if isinstance(exc, UnserializableValue):  # its message says everything; no traceback
        return f"{reason(500)}: {exc}"
    return masker_for(ctx).text(f"{reason(500)}\n\n{''.join(traceback.format_exception(exc))}")


__all__ = ["MASK", "development_error", "preferred", "report_of"]
