"""The resolved options: the dataclasses every layer reads, and nothing that reads them.

A leaf module: the session layer, the security checks and the request context
import these types, while the schema that fills them from the environment,
the arguments and the defaults (``porch.option_schema``) sits above, with the
converters and the store registry it needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .cookies import SameSite

DAY = 24 * 60 * 60

Env = Literal["development", "test", "production"]


class ReadOnly(Mapping[str, Any]):
    """Options readable both ways, ``options.port`` and ``options['port']``, and never writable."""

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(item.name for item in fields(self))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Secret:
    """The signing secrets: the first signs, every one verifies (rotation). Never printed."""

    values: tuple[str, ...] = field(repr=False)
    generated: bool = False

    def __repr__(self) -> str:
        return f"Secret('********' x{len(self.values)})"

    __str__ = __repr__


@dataclass(frozen=True, eq=False)
class CookieOptions(ReadOnly):
    """How the session cookie is set; secure defaults, each overridable."""

    name: str = "session"
    path: str = "/"
    domain: str | None = None
    secure: bool = False
    httponly: bool = True
    samesite: SameSite = "lax"
    host_prefix: bool = False


@dataclass(frozen=True, eq=False)
class SessionOptions(ReadOnly):
    """Resolved session options; ``store`` is a Store object or a store URL.

    ``store`` is typed ``object`` so that this module needs nothing of the session
    package (which imports it); the schema admits only a ``Store`` or a ``str``,
    and the app tells them apart.
    """

    store: object
    secret: Secret
    cookie: CookieOptions
    max_age: int = 14 * DAY
    absolute_max_age: int = 30 * DAY
    max_entries: int = 10_000
    timeout: float = 2.0
    max_size: int = 64 * 1024
    encrypt: bool = False


@dataclass(frozen=True, eq=False)
class SecurityOptions(ReadOnly):
    """Request protections; each on by default and turned off only explicitly.

    Header options hold the header's value, or None when turned off.
    """

    csrf: bool = True
    content_type_options: bool = True
    frame_options: str | None = "sameorigin"
    referrer_policy: str | None = "strict-origin-when-cross-origin"
    opener_policy: str | None = "same-origin"
    csp: str | None = None
    hsts: str | None = "max-age=31536000"
    hosts: tuple[str, ...] = ()
    header_limit: int = 32 * 1024
    json_depth: int = 64
    max_fields: int = 1000
    max_files: int = 100
    max_part_size: int = 1024 * 1024


@dataclass(frozen=True, eq=False)
class Options(ReadOnly):
    """Every resolved option of one app, as ``ctx.options``."""

    port: int
    env: Env
    secret: Secret
    public: str | None
    views: str
    log: str
    compress: bool
    favicon: str | None
    domain: str | None
    trust_proxy: bool | int | tuple[str, ...]
    body_limit: int
    session: SessionOptions | None
    security: SecurityOptions
    # Running (porch.serve): where to listen, on which server, the bounds on slow clients.
    host: str = "127.0.0.1"
    server: str = "granian"
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive: float = 5.0
    max_concurrency: int = 1000
    stop_timeout: int = 30
    health: str | None = None
    metrics: str | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"
