"""Which hosts ``sub(name, ...)`` admits: the subdomain a Host header names, and the match.

``sub()`` itself is porch/router.py's: it limits routes and middleware to a
``Subdomain``; this module only reads hosts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .security.hosts import parse_host, request_host

if TYPE_CHECKING:
    from .context import Context


def subdomain_of(host: str, domain: str | None) -> str | None:
    """The subdomain a Host header names: ``'api'`` for ``api.example.com:3000``.

    With the ``domain`` option set, it is whatever precedes ``.<domain>``, and a
    host outside that domain has none. Without it, the base domain is the last
    two labels (as server.js and Express), or ``localhost`` for ``*.localhost``,
    so ``api.localhost:3000`` works in development. ``''`` is the bare domain;
    None means no subdomain can be read (an IP address, a foreign host).
    """
    parsed = parse_host(host)
    if parsed is None or parsed.name.startswith("["):  # not a host, or an IPv6 literal
        return None
    name = parsed.name
    if domain is not None:
        if name == domain:
            return ""
        return name.removesuffix(f".{domain}") if name.endswith(f".{domain}") else None
    labels = name.split(".")
    if labels[-1].isdigit():  # an IPv4 address: no subdomains
        return None
    base = 1 if labels[-1] == "localhost" else 2
    return ".".join(labels[:-base])


class Subdomain:
    """The hosts ``sub(name, ...)`` admits: that subdomain exactly, or a regex matching it."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: str | re.Pattern[str]) -> None:
        if isinstance(pattern, str):
            pattern = pattern.strip().strip(".").lower()
        elif not isinstance(pattern, re.Pattern):
            raise TypeError(
                f"sub() takes a subdomain name such as 'api' (or a compiled regex) first; "
                f"got {pattern!r} ({type(pattern).__name__})."
            )
        self.pattern = pattern

    def __repr__(self) -> str:
        shown = self.pattern if isinstance(self.pattern, str) else self.pattern.pattern
        return f"sub({shown!r})"

    def admits(self, ctx: Context) -> bool:
        found = subdomain_of(request_host(ctx) or "", ctx.options.domain)
        if found is None:
            return False
        if isinstance(self.pattern, str):
            return found == self.pattern
        return self.pattern.fullmatch(found) is not None
