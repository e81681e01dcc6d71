"""Converters: how each option's value is read, from an argument or from the environment.

A converter takes ``(value, where)`` and returns the value porch uses, or
raises ``ConfigError``; ``where`` names the option and its source (``PORT`` or
``port=``), so the message says what was wrong, where, and what is accepted.
The schema in ``porch.option_schema`` gives every option one converter: a value is
converted by the type its option declares, never guessed from how it looks.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .security.hosts import host_pattern, parse_host

Convert = Callable[[Any, str], Any]

CONSERVATIVE_CSP = (
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'; "
    "object-src 'none'"
)
"""The policy ``security={'csp': True}`` sends: same-origin resources only, no plugins."""


def _reject(value: Any, where: str, accepted: str) -> ConfigError:
    return ConfigError(f"{where} is {value!r}; accepted: {accepted}.")


def integer(minimum: int, maximum: int | None = None) -> Convert:
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"

    def convert(value: Any, where: str) -> int:
        given = value
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            value = int(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            raise _reject(given, where, f"a whole number {bounds}")
        return value

    return convert


def number(minimum: float) -> Convert:
    def convert(value: Any, where: str) -> float:
        try:
            result = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            result = None
        if result is None or result <= minimum:
            raise _reject(value, where, f"a number of seconds greater than {minimum:g}")
        return result

    return convert


def choice(*accepted: str) -> Convert:
    def convert(value: Any, where: str) -> str:
        if isinstance(value, str) and value.strip().lower() in accepted:
            return value.strip().lower()
        raise _reject(value, where, ", ".join(accepted))

    return convert


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise _reject(value, where, "true or false (also 1/0, yes/no, on/off)")


def text(value: Any, where: str) -> str:
    if isinstance(value, str | os.PathLike):
        return os.fspath(value)
    raise _reject(value, where, "a string")


def folder_or_off(value: Any, where: str) -> str | None:
    """A folder name, or False (also 'false'/'off' from the environment) to turn it off."""
    if value is False or value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in FALSE_WORDS - {""}:
        return None
    if isinstance(value, str | os.PathLike) and os.fspath(value):
        return os.fspath(value)
    raise _reject(value, where, "a folder path, or False to turn it off")


SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def size(value: Any, where: str) -> int:
    """Bytes, as a whole number or a string such as '512kb' or '1mb' (as server.js)."""
    accepted = "a number of bytes, or a size such as '512kb' or '10mb'"
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*", value.lower())
        if match and float(match.group(1)) > 0:
            return int(float(match.group(1)) * SIZE_UNITS[match.group(2)])
    raise _reject(value, where, accepted)


def trust(value: Any, where: str) -> bool | int | tuple[str, ...]:
    """Which proxies may set X-Forwarded-*: off, all, a hop count, or a list of addresses.

    A number is a hop count before it is a yes-word: ``TRUST_PROXY=1`` trusts one
    proxy, exactly as ``trust_proxy=1`` does, never every hop (which would let
    any client choose ``ctx.ip``). Each listed address must be an IP address or
    network, so a typo fails here rather than trusting nobody, silently.
    """
    accepted = "false, true, a number of proxy hops, or a list of proxy IP addresses or networks"
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if re.fullmatch(r"[0-9]+", word):
            return int(word)
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise _reject(value, where, accepted)
    networks = tuple(item.strip() for item in value if item.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise _reject(network, where, accepted) from None
    return networks


def optional_text(value: Any, where: str) -> str | None:
    return None if value is None else text(value, where)


def is_off(value: Any) -> bool:
    """False, None, 0 or an off word from the environment: the header is not sent."""
    if value is None or value is False or (isinstance(value, int) and value == 0):
        return True
    return isinstance(value, str) and value.strip().lower() in FALSE_WORDS | {"none"}


def one_of_or_off(*accepted: str) -> Convert:
    """A header value from a closed set, or off (False, or 'false'/'off' from the environment)."""
    pick = choice(*accepted)

    def convert(value: Any, where: str) -> str | None:
        if is_off(value):
            return None
        try:
            result: str = pick(value, where)
        except ConfigError:
            raise _reject(value, where, f"{', '.join(accepted)}, or False to turn it off") from None
        return result

    return convert


def header_value(value: Any, where: str, accepted: str) -> str:
    """A header value given in full; control characters would split the response, so no."""
    if not isinstance(value, str) or not value.strip() or re.search(r"[\x00-\x1f\x7f]", value):
        raise _reject(value, where, accepted)
    return value.strip()


def content_security_policy(value: Any, where: str) -> str | None:
    """Off by default (it needs knowing the site); True sends a conservative same-origin policy."""
    if value is True or (isinstance(value, str) and value.strip().lower() in TRUE_WORDS):
        return CONSERVATIVE_CSP
    if is_off(value):
        return None
    return header_value(value, where, "True (a conservative policy), a policy string, or False")


def strict_transport(value: Any, where: str) -> str | None:
    """HSTS: seconds (max-age), a full header value ('max-age=...; includeSubDomains'), or off."""
    accepted = "a number of seconds, a value starting with 'max-age=', or False to turn it off"
    if is_off(value):
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        value = int(value)  # seconds, as hsts=1 in code: SECURITY_HSTS=1 is one second, not "on"
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return f"max-age={value}"
    if isinstance(value, str) and value.strip().lower().startswith("max-age="):
        return header_value(value, where, accepted)
    raise _reject(value, where, accepted)


def host_list(value: Any, where: str) -> tuple[str, ...]:
    """Host names a request may name: 'example.com', '.example.com' (and subdomains), or '*'."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise _reject(value, where, "a list of host names such as ['example.com', '.example.com']")
    hosts = tuple(item.strip().lower() for item in items if item.strip())
    for host in hosts:
        parsed = parse_host(host.removeprefix(".")) if host != "*" else None
        if host != "*" and (parsed is None or parsed.port is not None):
            raise _reject(
                host, where, "host names (no port) such as 'example.com', '.example.com' or '*'"
            )
    return tuple(host_pattern(host) for host in hosts)


def file_or_off(value: Any, where: str) -> str | None:
    """An existing file, as an absolute path; checked now so a typo fails at start-up."""
    if value is False or value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
        return None
    if not isinstance(value, str | os.PathLike):
        raise _reject(value, where, "the path of an image file such as 'public/logo.png', or False")
    path = Path(value).absolute()
    if not path.is_file():
        raise ConfigError(
            f"{where} is {os.fspath(value)!r}, but there is no file at {os.fspath(path)}; "
            "accepted: the path of an image file such as 'public/logo.png' (relative to the "
            "working directory), or False."
        )
    return os.fspath(path)


def domain_name(value: Any, where: str) -> str | None:
    """The site's own domain (``example.com``), below which ``sub()`` reads subdomains."""
    if value is None or value is False:
        return None
    accepted = "a domain name such as 'example.com' (no scheme, port or path)"
    if not isinstance(value, str):
        raise _reject(value, where, accepted)
    name = value.strip().strip(".").lower()
    if not name:
        return None
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", name):
        raise _reject(value, where, accepted)
    return name


def endpoint_or_off(default: str) -> Convert:
    """An endpoint's URL path ('/health'), True for ``default``, or False (the default) for none."""
    accepted = f"a path such as {default!r}, True (for {default!r}), or False to turn it off"

    def convert(value: Any, where: str) -> str | None:
        if value is True or (isinstance(value, str) and value.strip().lower() in TRUE_WORDS):
            return default
        if is_off(value):
            return None
        path = value.strip() if isinstance(value, str) else None
        if path is None or not re.fullmatch(r"(/[A-Za-z0-9._~\-]+)+/?", path):
            raise _reject(value, where, accepted)
        return path.rstrip("/")

    return convert
