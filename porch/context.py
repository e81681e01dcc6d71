"""The context ``ctx``: lazy, cached views of one request.

Nothing is parsed until a handler asks: ``ctx.query`` parses the query string
on first use, ``ctx.data`` parses the body on first use. The body bytes
themselves are received before the middleware run (see ``receive_body``),
because ``ctx.data`` is read synchronously, also from ``async def`` handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from .cookies import parse_cookies
from .errors import BadRequest, PayloadTooLarge, RequestTimeout
from .proxies import OWS, address_in, client_address, trusted_proxy_count
from .scope import cookie_header
from .security.requests import check_json_depth

if TYPE_CHECKING:
    from .options import Options
    from .protocols import Services
    from .session import Session
    from .session.stores import Store

T = TypeVar("T")


class _Lazy(Generic[T]):
    """``functools.cached_property`` without its per-access lock (Python 3.11 takes one).

    Computed on first access, then stored on the instance, so later reads are
    plain attribute reads: every request reads several of these.
    """

    def __init__(self, function: Callable[[Any], T]) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> T:
        if instance is None:
            return self  # type: ignore[return-value]
        value = self.function(instance)
        instance.__dict__[self.name] = value
        return value


if TYPE_CHECKING:
    from functools import cached_property as lazy
else:
    lazy = _Lazy

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
"""HTTP's optional whitespace, all that is stripped around list entries (str.strip() would
also strip '\x85' and other Unicode spaces, so 'example.com\x85' would pass as a host)."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods whose body porch always receives, announced or not."""


def group(pairs: Any) -> dict[str, Any]:
    """Pairs into a dict; a key given more than once maps to the list of its values."""
    result: dict[str, Any] = {}
    repeated: dict[str, list[Any]] = {}  # the lists porch made, appended to in place
    for key, value in pairs:
        if key not in result:
            result[key] = value
        elif key in repeated:
            repeated[key].append(value)  # not a new list per repeat: ?a&a&a... stays linear
        else:
            result[key] = repeated[key] = [result[key], value]
    return result


class _NoSession:
    """``ctx.session`` before porch set one: sessions are off for this app.

    A descriptor with ``__get__`` only, so the session porch sets is a plain
    instance attribute, read like any other (handlers read it several times a
    request); this only answers while none is set.
    """

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        raise RuntimeError(
            "ctx.session is not available: sessions are turned off (session=False or "
            "SESSION=false). Remove that option to use sessions."
        )


class AppContext:
    """What every ``ctx`` has, for HTTP requests and socket events alike.

    The app's options, store and log, and the browser's session.
    """

    app: Services
    if TYPE_CHECKING:
        session: Session
        """The visitor's session (a mutable mapping of JSON values)."""
    else:
        session = _NoSession()

    @property
    def options(self) -> Options:
        """The resolved options, read-only: ``ctx.options.port`` or ``ctx.options['port']``."""
        return self.app.options

    @property
    def store(self) -> Store | None:
        """The app's session store, for "log out everywhere" and "your devices" pages."""
        return self.app.store

    @property
    def log(self) -> logging.Logger:
        """The app's logger (standard ``logging``, name ``porch.app``)."""
        return self.app.log


class Context(AppContext):
    """What a handler receives: the request, the session, the options.

    ``ctx.scope`` and ``ctx.request`` (Starlette's ``Request``) stay reachable
    for anything porch does not wrap.
    """

    # Until a request sets them (class-level defaults: one request in many does).
    error: BaseException | None = None
    _body: bytes = b""
    _form: FormData | None = None

    def __init__(self, app: Services, scope: Scope, receive: Receive) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.params: dict[str, str] = {}

    @lazy
    def headers(self) -> Headers:
        """Request headers, case-insensitive: ``ctx.headers['user-agent']``."""
        return Headers(scope=self.scope)

    @lazy
    def query(self) -> dict[str, Any]:
        """The query string as a dict; a repeated key maps to a list of its values.

        More fields than ``security.max_fields`` (as for a form) is a 400.
        """
        raw = self.scope.get("query_string", b"").decode("latin-1")
        limit = self.options.security.max_fields
        if raw.count("&") >= limit:
            raise BadRequest(
                f"The query string has more than {limit} fields, the security.max_fields "
                "option; send fewer, or raise security.max_fields."
            )
        return group(parse_qsl(raw, keep_blank_values=True))

    @lazy
    def cookies(self) -> dict[str, str]:
        """Request cookies, percent-decoded."""
        raw = cookie_header(self.scope)  # read off the scope: no Headers built
        if raw is None:
            return {}
        return parse_cookies(raw.decode("latin-1"))

    @lazy
    def url(self) -> str:
        """The path plus the query string, as requested: ``/cats/?type=cute``."""
        raw_path = self.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else self.path
        query = self.scope.get("query_string", b"")
        return f"{path}?{query.decode('latin-1')}" if query else path

    @lazy
    def request(self) -> Request:
        """Starlette's Request for this scope, for anything porch does not wrap."""
        return Request(self.scope, self.receive)

    @lazy
    def ip(self) -> str | None:
        """The client's address; from X-Forwarded-For only through proxies ``trust_proxy`` names."""
        client = self.scope.get("client")
        direct = client[0] if client else None
        forwarded = self.forwarded_for()
        if not forwarded:
            return direct
        hops = [hop.strip(OWS) for hop in forwarded.split(",") if hop.strip(OWS)]
        chain = [direct or "", *reversed(hops)]
        return client_address(chain, self.options.trust_proxy)

    @lazy
    def secure(self) -> bool:
        """True when the request came over HTTPS, directly or through a trusted proxy."""
        if self.scope.get("scheme") in ("https", "wss"):
            return True
        if not self.is_from_trusted_proxy():  # the usual case: no header lookup at all
            return False
        return (self.forwarded("x-forwarded-proto") or "").lower() in ("https", "wss")

    @property
    def csrf(self) -> str:
        """The CSRF token to put in forms (field ``_csrf``) or send as ``X-CSRF-Token``."""
        from .security.csrf import csrf_token

        return csrf_token(self.session)

    @lazy
    def data(self) -> Any:
        """The parsed body: JSON, a form (dict), or text; None when there is no body.

        A malformed JSON body raises ``BadRequest`` (400), never a 500.
        """
        if self._form is not None:
            return group(
                (key, value)
                for key, value in self._form.multi_items()
                if not isinstance(value, UploadFile)
            )
        if not self._body:
            return None
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json" or content_type.endswith("+json"):
            try:
                parsed = orjson.loads(self._body)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"The request body is not valid JSON: {exc}.") from exc
            check_json_depth(parsed, self.options.security.json_depth)
            return parsed
        try:
            return self._body.decode("utf-8")
        except UnicodeDecodeError:
            return self._body

    @lazy
    def files(self) -> dict[str, Any]:
        """Uploaded files from a multipart form: name -> Starlette ``UploadFile`` (or a list)."""
        if self._form is None:
            return {}
        return group(
            (key, value) for key, value in self._form.multi_items() if isinstance(value, UploadFile)
        )

    def has_form(self) -> bool:
        """True when the body was a form (urlencoded or multipart)."""
        return self._form is not None

    def forwarded(self, name: str) -> str | None:
        """A trusted proxy's entry of an X-Forwarded-* list header; None without one.

        Read from the proxy's end, as the address is: with N trusted proxies the
        entry is the N-th from the right, the one the farthest trusted proxy
        wrote; entries left of it came from the client and are ignored.
        """
        if not self.is_from_trusted_proxy():
            return None
        joined = ",".join(self.headers.getlist(name))
        if not joined:
            return None
        entries = joined.split(",")  # empty ones kept: dropping one would shift the client's in
        proxies = trusted_proxy_count(self.forwarded_for(), self.options.trust_proxy, len(entries))
        return entries[max(len(entries) - proxies, 0)].strip(OWS) or None

    def forwarded_for(self) -> str:
        """Every X-Forwarded-For line, joined as one list (RFC 9110 5.3).

        A proxy may add its hop as a line of its own (HAProxy's ``option
        forwardfor`` does) rather than append to the client's line: reading the
        first line alone would take the client's forged one for the proxy's.
        """
        return ",".join(self.headers.getlist("x-forwarded-for"))

    def is_from_trusted_proxy(self) -> bool:
        trust = self.app.options.trust_proxy
        if trust is False or trust == 0:
            return False
        if isinstance(trust, tuple):
            client = self.scope.get("client")
            return client is not None and address_in(client[0], trust)
        return True

    # --- the body, received before the middleware run ---

    async def receive_body(self, limit: int) -> None:
        """Receive the body (at most ``limit`` bytes, else 413), and parse a form's parts."""
        upstream = self.receive
        timeout = self.options.body_timeout
        deadline = asyncio.get_running_loop().time() + timeout  # for the whole body, not a part
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await drain(upstream, deadline)
            raise too_large(limit)
        received = 0
        finished = False  # the last part arrived (or the client left): nothing left to drain

        async def bounded() -> Message:
            nonlocal received, finished
            try:
                async with asyncio.timeout_at(deadline):
                    message = await upstream()
            except TimeoutError:
                raise too_slow(timeout) from None
            finished = message["type"] != "http.request" or not message.get("more_body", False)
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
            return message

        try:
            await self.parse_body(Request(self.scope, bounded))
        except (BadRequest, PayloadTooLarge):  # refused before the end: the client must see why
            if not finished:
                await drain(upstream, deadline)
            raise

    async def parse_body(self, request: Request) -> None:
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in FORM_TYPES:
            try:
                security = self.options.security
                self._form = await request.form(
                    max_files=security.max_files,
                    max_fields=security.max_fields,
                    max_part_size=security.max_part_size,
                )
            except (MultiPartException, HTTPException, ValueError) as exc:
                # ValueError: some Starlette releases let a malformed multipart body
                # (no boundary line, say) escape as one; it is still the client's fault.
                detail = getattr(exc, "message", None) or getattr(exc, "detail", "") or str(exc)
                raise BadRequest(
                    f"The form body could not be parsed: {detail} (limits: the security options "
                    "max_fields, max_files and max_part_size)"
                ) from exc
        else:
            self._body = await request.body()

    async def close(self) -> None:
        """Close uploaded files' temporary storage."""
        if self._form is not None:
            await self._form.close()


Responder: TypeAlias = Callable[[Context], Awaitable[Response]]
"""What answers a request: ``App.respond``, and what the ``health`` and ``metrics`` options
put around it (porch/health.py, porch/metrics.py)."""

DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 5.0


async def drain(receive: Receive, deadline: float) -> None:
    """Read and drop the rest of a refused body (413, 400) (at most 1 MiB, 5 s), then answer.

    A server that answers while the client is still sending may reset the
    connection (Granian does), and the client then sees an error instead of
    the 413. A larger or slower remainder is not read: then the client may.
    """
    budget = DRAIN_BYTES
    until = min(deadline, asyncio.get_running_loop().time() + DRAIN_SECONDS)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(until):
            while budget > 0:
                message = await receive()
                budget -= len(message.get("body", b""))
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return


def too_slow(timeout: float) -> RequestTimeout:
    return RequestTimeout(
        f"The request body did not arrive within {timeout:g} seconds, the body_timeout option."
    )


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than {limit} bytes, the body_limit option; "
        "send less, or raise body_limit."
    )
