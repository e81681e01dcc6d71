"""Refusals before any handler runs: a Host not allowed, oversized headers, deep JSON.

Each one is a 4xx with a message saying what was refused and which option
governs it, never a 500: they are the requests an attacker sends on purpose.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, HeadersTooLarge
from .hosts import host_allowed, host_pattern, parse_host, request_host

if TYPE_CHECKING:
    from ..options import SecurityOptions
    from ..protocols import Addressed


def header_bytes(ctx: Addressed) -> tuple[int, str]:
    """The size of all request headers, and the name of the largest one (for the message)."""
    total, largest, largest_size = 0, "", -1
    for name, value in ctx.scope["headers"]:
        size = len(name) + len(value)
        total += size
        if size > largest_size:
            largest, largest_size = name.decode("latin-1"), size
    return total, largest


class RequestGuard:
    """The checks every request passes before static files, the session and the handlers."""

    def __init__(self, options: SecurityOptions) -> None:
        self.hosts = tuple(host_pattern(pattern.lower()) for pattern in options.hosts)
        self.header_limit = options.header_limit

    def check(self, ctx: Addressed) -> None:
        if sum(map(len, chain.from_iterable(ctx.scope["headers"]))) > self.header_limit:
            self.check_header_size(ctx)  # the common case costs one sum, not a call more
        if self.hosts:
            self.check_host(ctx)

    def check_header_size(self, ctx: Addressed) -> None:
        total, largest = header_bytes(ctx)
        if total > self.header_limit:
            raise HeadersTooLarge(
                f"The request headers are {total} bytes, more than the {self.header_limit} of "
                f"the security.header_limit option (the largest is {largest!r}); "
                "send fewer or smaller cookies and headers."
            )

    def check_host(self, ctx: Addressed) -> None:
        """Only the Host names ``security.hosts`` lists: no password-reset links to evil.com."""
        host = request_host(ctx)
        parsed = parse_host(host) if host is not None else None
        if parsed is None or not host_allowed(parsed.name, self.hosts):
            shown = "(none, or more than one)" if host is None else repr(host[:100])
            raise BadRequest(
                f"The Host header {shown} is not a host this site answers to; "
                "allowed hosts are set by the security.hosts option (SECURITY_HOSTS)."
            )


def json_too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def check_json_depth(value: Any, limit: int) -> None:
    """Refuse a JSON body nested deeper than ``security.json_depth`` with a 400."""
    if isinstance(value, dict | list) and json_too_deep(value, limit):
        raise BadRequest(
            f"The JSON body nests arrays and objects deeper than {limit} levels, the "
            "security.json_depth option; send a flatter document."
        )
