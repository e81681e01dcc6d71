"""What the lower layers read of a request and of the app, as structural protocols.

The request context (``porch.context.Context``) imports the reply helpers, the
security checks and the log helpers; if they named ``Context`` back, the
import graph would have no lower layer. Each names here only what it reads,
and ``Context`` satisfies every protocol without saying so (``typing.Protocol``).
Read-only properties, so that a plain attribute of a wider type still matches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from starlette.datastructures import Headers
from starlette.types import Scope

if TYPE_CHECKING:
    from .options import Options
    from .session import Session, SessionLayer
    from .session.stores import Store


class Located(Protocol):
    """A request's method and path: what a log line names."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


class Addressed(Protocol):
    """The raw headers and the trusted proxy's: what the Host and header-size checks read."""

    @property
    def scope(self) -> Scope: ...

    def forwarded(self, name: str) -> str | None: ...


class Secured(Protocol):
    """Whether the request came over HTTPS: what decides the HSTS header."""

    @property
    def secure(self) -> bool: ...


class Submitted(Protocol):
    """An unsafe request's method, headers, form and session: what the CSRF check reads."""

    @property
    def method(self) -> str: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def data(self) -> Any: ...

    @property
    def session(self) -> Session: ...

    def has_form(self) -> bool: ...


class Templates(Protocol):
    """The app's template renderer (the ``views`` folder)."""

    def render(self, name: str, local: Mapping[str, Any]) -> str: ...


class Rendering(Protocol):
    """A request whose app renders templates: what ``render()`` replies need."""

    @property
    def app(self) -> Templates: ...


class Services(Templates, Protocol):
    """What a request reaches of its app (``ctx.app``): the options, the store, the log, templates.

    The app builds each context, so the context names only this of it and sits below.
    """

    @property
    def options(self) -> Options: ...

    @property
    def store(self) -> Store | None: ...

    @property
    def log(self) -> logging.Logger: ...


class SocketHost(Services, Protocol):
    """What the socket layer needs of the app: its session layer, cookie name and start-up."""

    @property
    def sessions(self) -> SessionLayer | None: ...

    @property
    def session_cookie(self) -> str: ...

    async def open(self) -> None: ...


class RouteLike(Protocol):
    """A route's method and path: what an error message names."""

    @property
    def method(self) -> str | None: ...

    @property
    def path(self) -> str: ...
