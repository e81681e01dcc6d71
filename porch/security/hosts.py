"""The one reading of a request's host: the Host header, or a trusted proxy's X-Forwarded-Host.

Every place porch needs the host (the ``security.hosts`` allow-list, ``sub()``)
reads it here, so they cannot disagree about what a header means. A host is
``name[:port]``: the name a DNS name (letters, digits, ``-`` and ``_`` in
dot-separated labels, an optional final dot), an IPv4 address, or an IPv6
address in brackets; the port digits only, 1 to 65535. Anything else (a
``user@``, a ``/`` or ``\\``, spaces, control bytes, an empty label, a port
that is not a number, non-ASCII) is not a host, and a request naming one is
refused rather than guessed at: a guess is how ``example.com:@evil.com`` once
passed an allow-list that listed ``example.com``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ..protocols import Addressed

LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
NAME = re.compile(rf"(?:{LABEL}\.)*{LABEL}\.?")
MAX_NAME = 253
MAX_HOST = 300  # the longest name, brackets, a colon and five digits, with room to spare


class Host(NamedTuple):
    """A parsed host: ``name`` lower-cased, without a final dot (IPv6 in brackets), and the port."""

    name: str
    port: int | None


def parse_host(value: str) -> Host | None:
    """``'Example.COM:8080'`` -> ``Host('example.com', 8080)``; None when it is not a host."""
    if not value or len(value) > MAX_HOST or not value.isascii():
        return None
    value = value.lower()
    if value.startswith("["):
        end = value.find("]")
        name = ip_literal(value[1:end]) if end > 0 else None
        rest = value[end + 1 :]
    else:
        name, colon, port_text = value.partition(":")
        name = dns_or_ipv4(name)
        rest = colon + port_text
    if name is None:
        return None
    if not rest:
        return Host(name, None)
    port = rest[1:]
    if rest[0] != ":" or not (1 <= len(port) <= 5 and port.isdigit()):
        return None
    number = int(port)
    return Host(name, number) if 1 <= number <= 65535 else None


def ip_literal(text: str) -> str | None:
    """An IPv6 address (no zone), in brackets and its short form, so '[0::1]' is '[::1]'."""
    if "%" in text:
        return None
    try:
        return f"[{ipaddress.IPv6Address(text).compressed}]"
    except ValueError:
        return None


def dns_or_ipv4(text: str) -> str | None:
    """A DNS name or IPv4 address without its final dot; None for anything else.

    A name whose last label is all digits can only be an IPv4 address (no
    top-level domain is a number), so '1.2.3.999' and '0x7f.1' are refused.
    """
    if len(text) > MAX_NAME + 1 or not NAME.fullmatch(text):
        return None
    name = text.removesuffix(".")
    if name.rpartition(".")[2].isdigit():
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return None
    return name


def host_pattern(pattern: str) -> str:
    """An allow-list entry in the form ``parse_host`` gives names ('[0::1]' -> '[::1]')."""
    if pattern == "*":
        return pattern
    domain = pattern.startswith(".")
    parsed = parse_host(pattern.removeprefix("."))
    name = parsed.name if parsed is not None else pattern.removeprefix(".").lower()
    return f".{name}" if domain else name


def host_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    """'*' allows any host; '.example.com' the domain and its subdomains; else an exact name.

    A ``.domain`` pattern matches whole labels: ``a.example.com`` and
    ``example.com``, never ``badexample.com``. ``name`` comes from ``parse_host``,
    so it holds no ``/`` or ``@`` that could end in a listed domain.
    """
    for pattern in allowed:
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
            return True
    return False


def request_host(ctx: Addressed) -> str | None:
    """The host this request names, as given: the Host header, or X-Forwarded-Host.

    X-Forwarded-Host counts only from a trusted proxy (``trust_proxy``), and it
    is read from the proxy's end of the list, as the address is (see
    ``Context.forwarded``). A request with two Host headers names no host:
    servers and proxies may disagree on which one counts.
    """
    forwarded = ctx.forwarded("x-forwarded-host")
    if forwarded is not None:
        return forwarded
    found: str | None = None
    for key, value in ctx.scope["headers"]:
        if key == b"host":
            if found is not None:
                return None
            found = value.decode("latin-1")
    return found


def request_host_name(ctx: Addressed) -> str | None:
    """The name part of the request's host, parsed; None when it names no valid host."""
    given = request_host(ctx)
    parsed = parse_host(given) if given is not None else None
    return parsed.name if parsed is not None else None
