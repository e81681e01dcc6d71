"""Reading a Redis store URL into what redis-py needs: hosts, credentials, the service.

``urls.py`` refuses a URL that cannot be right when the app is built; this
module takes one that passed apart, for ``RedisStore`` to connect with. Neither
imports redis, so both work without the optional dependency.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from ...errors import ConfigError
from .urls import SENTINEL_FORM, hide_password

# The one way porch hides a password in a URL it logs or names in an error.
redact = hide_password


def host_ports(netloc: str, *, url: str) -> list[tuple[str, int]]:
    """``host:port[,host:port]`` (after any ``user:password@``) as pairs."""
    hosts = netloc.rpartition("@")[2]
    pairs = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(
                f"session store URL {redact(url)!r}: {item!r} is not host:port; "
                "write e.g. redis+sentinel://:password@10.0.0.1:26379,10.0.0.2:26379/mymaster/0."
            )
        pairs.append((host.strip("[]"), int(port)))
    return pairs


def credentials(netloc: str) -> tuple[str | None, str | None]:
    """The user name and password of ``[user][:password]@host``, each None when absent."""
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return None, None
    username, colon, password = userinfo.partition(":")
    if not colon:  # "secret@host" carries a password alone, as redis:// does
        return None, unquote(username) or None
    return unquote(username) or None, unquote(password) or None


def sentinel_service(url: str) -> tuple[str, int]:
    """The service name and database of ``redis+sentinel://.../service_name[/db]``."""
    path = [segment for segment in urlsplit(url).path.split("/") if segment]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigError(
            f"session store URL {redact(url)!r} needs a service name and an optional db: "
            f"{SENTINEL_FORM}."
        )
    return path[0], int(path[1]) if len(path) == 2 else 0
