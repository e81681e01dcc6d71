"""Security headers: what every response carries unless the handler set that header itself.

The list is computed once, when the app is built, from ``security={...}``; a
request only pays for a membership check per header. HSTS is the one header
that depends on the request: it is sent in production, over HTTPS (directly or
through a trusted proxy), because a browser that saw it over plain HTTP from a
development machine would refuse plain HTTP to that host for a year.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..options import SecurityOptions
    from ..protocols import Secured


def header_list(options: SecurityOptions) -> tuple[tuple[str, str], ...]:
    """The headers every response gets, as (lower-case name, value), from the options."""
    candidates = (
        ("x-content-type-options", "nosniff" if options.content_type_options else None),
        ("x-frame-options", options.frame_options.upper() if options.frame_options else None),
        ("referrer-policy", options.referrer_policy),
        ("cross-origin-opener-policy", options.opener_policy),
        ("content-security-policy", options.csp),
    )
    return tuple((name, value) for name, value in candidates if value)


class SecurityHeaders:
    """Adds the configured security headers to a response, never over one the handler set."""

    def __init__(self, options: SecurityOptions, *, production: bool) -> None:
        # Encoded once: each response then only appends ready (name, value) byte pairs.
        self.raw = tuple(
            (name.encode(), value.encode("latin-1")) for name, value in header_list(options)
        )
        hsts = options.hsts if production else None
        self.raw_hsts = hsts.encode("latin-1") if hsts else None

    def add_to(self, raw: list[tuple[bytes, bytes]], ctx: Secured, *, fresh: bool = False) -> None:
        """Add to a response's raw header list (lower-case names), leaving ones it has.

        ``fresh``: the list holds only porch's own headers (content type and
        length, session cookie, Vary), none of these, so nothing needs checking.
        """
        if fresh:
            raw.extend(self.raw)
            present: Collection[bytes] = ()
        else:
            present = {name for name, _ in raw}
            for pair in self.raw:
                if pair[0] not in present:
                    raw.append(pair)
        if self.raw_hsts and b"strict-transport-security" not in present and ctx.secure:
            raw.append((b"strict-transport-security", self.raw_hsts))
