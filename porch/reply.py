"""Replies: ``status(404).send('Nope')``, ``cookie('a', '1').json({...})``, and return values.

Each helper starts a ``Reply``; every ``Reply`` method returns the reply, so
they chain as in server.js. A handler's return value becomes a response in
``to_response``: ``str`` -> HTML, ``dict``/``list`` -> JSON, ``int`` -> that
status, ``bytes`` -> octet-stream, a ``Reply`` -> itself.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson
from starlette.responses import FileResponse, RedirectResponse, Response

from .cookies import SAME_SITE, SameSite, set_cookie_header
from .headers import CONTROL, TOKEN, can_encode, check_header, check_response
from .ready import ReadyResponse

if TYPE_CHECKING:
    from .protocols import Rendering

log = logging.getLogger("porch")

HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
SHORT_TYPES = {
    "html": HTML,
    "json": JSON,
    "text": TEXT,
    "txt": TEXT,
    "js": "text/javascript; charset=utf-8",
}

Body: TypeAlias = str | bytes | bytearray | memoryview | dict[Any, Any] | list[Any] | None


def reason(code: int) -> str:
    """The standard reason phrase for a status ('Not Found'), or '' for a code without one."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def media_type(name: str) -> str:
    """A full media type from a short name ('png') or a full one ('image/png')."""
    if not isinstance(name, str):
        raise TypeError(f"content_type({name!r}): give a short name ('png') or a media type.")
    if "/" in name:
        check_header("content-type", name)
        return name
    short = name.lower().lstrip(".")
    if short in SHORT_TYPES:
        return SHORT_TYPES[short]
    guessed = mimetypes.types_map.get(f".{short}")
    if guessed is None:
        raise ValueError(f"content_type({name!r}): unknown short name; give a full media type.")
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def json_bytes(data: Any) -> bytes:
    """JSON as orjson writes it; non-string dict keys are allowed, as json.dumps does.

    Other mappings (``ctx.session``, ``ctx.options``) are written as objects too.
    """
    return orjson.dumps(data, default=mapping_as_dict, option=orjson.OPT_NON_STR_KEYS)


def mapping_as_dict(value: Any) -> dict[Any, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


class Reply:
    """A response under construction; every method returns the reply itself, to chain."""

    __slots__ = (
        "_body",
        "_download_name",
        "_headers",
        "_kind",
        "_root",
        "_status",
        "_template",
        "_type",
    )

    def __init__(self) -> None:
        self._status: int | None = None
        self._body: Any = None
        self._kind = "empty"
        self._headers: list[tuple[str, str]] = []
        self._type: str | None = None
        self._root: str | None = None
        self._download_name: str | None = None
        self._template: tuple[str, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"Reply({self._status or 200}, {self._kind})"

    def status(self, code: int) -> Reply:
        """Set the status code."""
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise ValueError(f"status({code!r}): a status is a whole number from 100 to 599.")
        self._status = code
        return self

    def send(self, body: Body = "") -> Reply:
        """Send a body: str as HTML, bytes as octet-stream, dict/list as JSON, None as nothing.

        Anything else is refused (as server.js refuses ``send(ctx)``) rather than
        sent as its ``str()``, which would show an object's repr to the visitor.
        """
        if isinstance(body, dict | list):
            return self.json(body)
        if body is None:
            body = ""
        if not isinstance(body, str | bytes | bytearray | memoryview):
            raise TypeError(
                f"send() got a {type(body).__name__}; send a str (HTML), bytes, a dict or a "
                "list (JSON), or convert it first, e.g. send(str(value))."
            )
        self._kind, self._body = "body", body
        return self

    def json(self, data: Any) -> Reply:
        """Send ``data`` as JSON."""
        self._kind, self._body = "json", data
        return self

    def redirect(self, code_or_url: int | str, url: str | None = None) -> Reply:
        """Redirect, 302 by default: ``redirect('/login')`` or ``redirect(301, '/new')``."""
        if isinstance(code_or_url, int):
            self.status(code_or_url)
            target = url
        else:
            target = code_or_url
        if not isinstance(target, str):
            raise ValueError("redirect() needs a URL: redirect('/login') or redirect(301, '/new').")
        self._kind, self._body = "redirect", target
        return self

    def file(
        self, path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
    ) -> Reply:
        """Send a file; relative paths resolve against ``root`` (default: the working directory).

        A path that resolves outside ``root`` (``../``, or an absolute path
        elsewhere) is refused with 404, so a path built from a URL cannot read
        other files. A missing file is a 404.
        """
        self._kind, self._body = "file", os.fspath(path)
        self._root = None if root is None else os.fspath(root)
        return self

    def download(
        self,
        path: str | os.PathLike[str],
        filename: str | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
    ) -> Reply:
        """Send a file as an attachment, named by its basename unless ``filename`` is given."""
        self.file(path, root=root)
        name = filename or os.path.basename(os.fspath(path))
        if not isinstance(name, str) or not can_encode(name):
            # Content-Disposition carries it percent-encoded as UTF-8: any str but a lone surrogate
            raise ValueError(f"download(..., {name!r}): a file name is text (a str of Unicode).")
        self._download_name = name
        return self

    def cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: SameSite | None = "lax",
    ) -> Reply:
        """Set a cookie (``max_age`` in seconds)."""
        if not isinstance(name, str) or not TOKEN.fullmatch(name):
            raise ValueError(f"cookie({name!r}, ...): a cookie name is a word such as 'theme'.")
        if samesite is not None and samesite not in SAME_SITE:
            raise ValueError(
                f"cookie({name!r}, ...): samesite is {samesite!r}; accepted: "
                "'lax', 'strict', 'none' or None."
            )
        for option, given in (("path", path), ("domain", domain), ("expires", expires)):
            if isinstance(given, str) and (";" in given or CONTROL.search(given)):
                raise ValueError(
                    f"cookie({name!r}, ...): {option} {given!r} may not hold ';' or a line break."
                )
        header = set_cookie_header(
            name,
            str(value),
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
        self._headers.append(("set-cookie", header))
        return self

    def header(self, name: str | Mapping[str, str], value: str | None = None) -> Reply:
        """Set a header, or several from a dict; setting one again replaces it (as express).

        ``Set-Cookie`` is the exception: each call adds one more cookie.
        """
        pairs = name.items() if isinstance(name, Mapping) else [(name, value)]
        for key, item in pairs:
            if item is None:
                raise ValueError(f"header {key!r}: a header needs a value: header('X-A', '1').")
            check_header(key, str(item))
            lower = key.lower()
            if lower == "content-type":
                self._type = str(item)
                continue
            if lower != "set-cookie":
                self._headers = [pair for pair in self._headers if pair[0] != lower]
            self._headers.append((lower, str(item)))
        return self

    def content_type(self, kind: str) -> Reply:
        """Set the Content-Type: a short name ('html', 'json', 'png') or a full media type."""
        self._type = media_type(kind)
        return self

    def render(self, template: str, **local: Any) -> Reply:
        """Render a Jinja2 template from the ``views`` folder, autoescaped."""
        self._kind = "render"
        self._template = (template, local)
        return self

    # --- turning it into a response ---

    def to_response(self, ctx: Rendering) -> Response:
        response = self._build(ctx)
        for name, value in self._headers:
            if name == "set-cookie":
                response.headers.append(name, value)
            else:  # header() sets: it replaces what the response already had, e.g. on a file
                response.headers[name] = value
        return check_response(response)

    def _build(self, ctx: Rendering) -> Response:
        code = self._status or 200
        if self._kind == "json":
            return Response(json_bytes(self._body), code, media_type=self._type or JSON)
        if self._kind == "body":
            return body_response(self._body, code, self._type)
        if self._kind == "redirect":
            return RedirectResponse(self._body, status_code=self._status or 302)
        if self._kind == "file":
            return self._file_response(code)
        if self._kind == "render" and self._template is not None:
            name, local = self._template
            html = ctx.app.render(name, {"ctx": ctx, **local})
            return Response(html, code, media_type=self._type or HTML)
        return Response(reason(code), code, media_type=self._type or TEXT)

    def _file_response(self, code: int) -> Response:
        root = Path(self._root or os.getcwd()).resolve()
        try:
            target = (root / self._body).resolve()
            servable = target.is_file() and os.access(target, os.R_OK)
        except (OSError, ValueError):  # a path built from a URL: NUL, too long, a surrogate...
            return Response(reason(404), 404, media_type=TEXT)
        if not target.is_relative_to(root):
            log.warning(
                "file(%r) resolves outside %s; refused with 404 (pass root= to allow).",
                self._body,
                root,
            )
            return Response(reason(404), 404, media_type=TEXT)
        if not servable:  # missing, or unreadable (which would fail after the reply started)
            return Response(reason(404), 404, media_type=TEXT)
        disposition = "attachment" if self._download_name is not None else None
        return FileResponse(
            target,
            status_code=code,
            media_type=self._type,
            filename=self._download_name,
            content_disposition_type=disposition or "inline",
        )


JSON_BYTES = JSON.encode()
JSON_CONTAINERS = (dict, list)  # a tuple: isinstance() with one is faster than with dict | list
HTML_BYTES = HTML.encode()


def body_response(body: Any, code: int, kind: str | None) -> Response:
    if isinstance(body, bytes | bytearray | memoryview):
        return Response(bytes(body), code, media_type=kind or OCTETS)
    return Response(str(body), code, media_type=kind or HTML)


def to_response(value: Any, ctx: Rendering) -> Response:
    """What a handler's return value becomes (see the module docstring)."""
    if isinstance(value, JSON_CONTAINERS):
        return ReadyResponse(json_bytes(value), JSON_BYTES)
    if isinstance(value, Reply):
        return value.to_response(ctx)
    if isinstance(value, str):
        return ReadyResponse(value.encode(), HTML_BYTES)
    if isinstance(value, Mapping):
        return Response(json_bytes(value), media_type=JSON)
    if isinstance(value, bool):
        raise TypeError(f"a handler returned {value!r}; return None to pass on, or a reply.")
    if isinstance(value, int):
        return Reply().status(value).to_response(ctx)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(bytes(value), media_type=OCTETS)
    if isinstance(value, Response):
        return check_response(value)
    if isinstance(value, tuple):  # Flask's return form: one helper per part in porch
        raise TypeError(
            f"a handler returned a tuple {value!r:.80}; porch does not take Flask's (body, status)"
            " or (body, status, headers): chain the reply instead, e.g. "
            "status(201).json(body).header('X-A', '1'), or return a list for JSON."
        )
    raise TypeError(
        f"a handler returned a {type(value).__name__}; accepted: str (HTML), dict or list "
        "(JSON), int (a status), bytes, a reply such as status(201).json(...), or None to pass on."
    )


def status(code: int) -> Reply:
    """``status(404).send('Nope')``"""
    return Reply().status(code)


def send(body: Body = "") -> Reply:
    """``send('<h1>Hi</h1>')``"""
    return Reply().send(body)


def json(data: Any) -> Reply:
    """``json({'ok': True})``"""
    return Reply().json(data)


def redirect(code_or_url: int | str, url: str | None = None) -> Reply:
    """``redirect('/login')`` (302) or ``redirect(301, '/new')``"""
    return Reply().redirect(code_or_url, url)


def file(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> Reply:
    """``file('public/report.pdf')``"""
    return Reply().file(path, root=root)


def download(
    path: str | os.PathLike[str],
    filename: str | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
) -> Reply:
    """``download('data/2024.csv', 'report.csv')``"""
    return Reply().download(path, filename, root=root)


def cookie(name: str, value: str, **options: Any) -> Reply:
    """``cookie('theme', 'dark', max_age=3600).send('ok')``"""
    return Reply().cookie(name, value, **options)


def header(name: str | Mapping[str, str], value: str | None = None) -> Reply:
    """``header('X-Id', '42')`` or ``header({'X-A': '1', 'X-B': '2'})``"""
    return Reply().header(name, value)


def content_type(kind: str) -> Reply:
    """``content_type('png').send(data)``"""
    return Reply().content_type(kind)


def render(template: str, **local: Any) -> Reply:
    """``render('index.html', user=user)``"""
    return Reply().render(template, **local)
