"""The options of ``server(**options)`` as types, so mypy catches a misspelt or mistyped one.

``server()`` already refuses an unknown option at start-up (``porch.option_schema``
checks every name); these ``TypedDict``s move that check to the editor and to
mypy (PEP 692: ``**options: Unpack[ServerOptions]``). They describe what a
caller may pass, which is wider than what porch keeps: ``body_limit='1mb'``
is read as a number of bytes, ``public=False`` turns the folder off.

The schema in ``porch.option_schema`` stays the one source of the names, defaults and
conversions; tests/test_option_types.py holds these types to it (same names,
every default and every literal accepted), so the two cannot drift. A dict of
options can be typed too: ``settings: ServerOptions = {'port': 8080}``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any, Literal, Protocol, TypedDict

from .cookies import SameSite


class StoreObject(Protocol):
    """What ``session={'store': ...}`` takes besides a URL: a ``porch.session.stores.Store``.

    Named by its required methods rather than imported, so this module stays a
    leaf that the session package can sit above; start-up still checks that the
    object is a ``Store`` subclass.
    """

    async def load(self, key: str) -> dict[str, Any] | None: ...

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None: ...

    async def touch(self, key: str, ttl: int) -> None: ...

    async def destroy(self, key: str) -> None: ...


Off = Literal[False] | None
"""False turns an option off (None too, as the default of several)."""

FilePath = str | os.PathLike[str]
ReferrerPolicy = Literal[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
]


class CookieSettings(TypedDict, total=False):
    """``session={'cookie': {...}}``: how the session cookie is set."""

    name: str
    path: str
    domain: str | None
    secure: bool | None  # None: secure in production (and with host_prefix), else not
    httponly: bool
    samesite: SameSite
    host_prefix: bool


class SessionSettings(TypedDict, total=False):
    """``session={...}``: where sessions live, how long, and how they are signed."""

    store: StoreObject | str  # a Store object, or a URL such as 'sqlite:///sessions.db'
    cookie: CookieSettings | bool | None
    secret: str | None
    redis: str | None
    max_age: int
    absolute_max_age: int
    max_entries: int
    timeout: float
    max_size: int | str
    encrypt: bool


class SecuritySettings(TypedDict, total=False):
    """``security={...}``: the request protections, each on by default."""

    csrf: bool
    content_type_options: bool
    frame_options: Literal["sameorigin", "deny"] | Off
    referrer_policy: ReferrerPolicy | Off
    opener_policy: Literal["same-origin", "same-origin-allow-popups", "unsafe-none"] | Off
    csp: str | bool | None  # True: a conservative same-origin policy
    hsts: int | str | Off  # seconds, or a full 'max-age=...' value
    hosts: list[str] | tuple[str, ...] | str
    header_limit: int | str
    json_depth: int
    max_fields: int
    max_files: int
    max_part_size: int | str


class ServerOptions(TypedDict, total=False):
    """Every keyword argument of ``server()`` and ``porch.run()``; see docs/options.md."""

    port: int
    env: Literal["development", "test", "production"]
    secret: str | None  # several, comma-separated, rotate: the first signs
    public: FilePath | Off
    views: FilePath
    log: Literal["debug", "info", "warning", "error", "critical"]
    compress: bool
    favicon: FilePath | Off
    domain: str | Off
    trust_proxy: bool | int | str | list[str] | tuple[str, ...]
    body_limit: int | str
    host: str
    server: Literal["granian", "uvicorn"]
    header_timeout: float  # seconds
    body_timeout: float
    keep_alive: float
    max_concurrency: int
    stop_timeout: int  # seconds a stopping worker waits for what is still open
    health: str | bool | None  # a path such as '/health'; True: '/health'
    metrics: str | bool | None  # a path such as '/metrics'; True: '/metrics'
    session: SessionSettings | bool | None  # False: no sessions
    security: SecuritySettings | bool | None


__all__ = [
    "CookieSettings",
    "SecuritySettings",
    "ServerOptions",
    "SessionSettings",
    "StoreObject",
]
