"""Store URLs checked when the app is built, so a URL that cannot be right stops start-up.

Without this, redis-py reads ``redis://host:6379/abc`` as database 0 without a
word, and an unknown query option or a port out of range surfaces only on the
first request, as a 500. Each check names where the URL came from (the option
or variable), the part that is wrong and what is accepted. Whether the store
answers is another question, asked once at start-up (``porch/health.py``):
a store may come up after the app, so that one only logs.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote, urlsplit

from ...errors import ConfigError
from .backends import BACKENDS, accepted_schemes, scheme_of

# Query options redis-py reads from a URL, by the kind of value each takes.
REDIS_QUERY_NUMBERS = frozenset(
    {
        "db",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_read_size",
        "max_connections",
        "health_check_interval",
        "timeout",
        "protocol",
        "ssl_min_version",
    }
)
REDIS_QUERY_BOOLEANS = frozenset(
    {"socket_keepalive", "retry_on_timeout", "ssl_check_hostname", "legacy_responses"}
)
REDIS_QUERY_TEXT = frozenset(
    {"client_name", "ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile"}
)
REDIS_QUERY = REDIS_QUERY_NUMBERS | REDIS_QUERY_BOOLEANS | REDIS_QUERY_TEXT
# Query options whose values come from a closed set.
REDIS_QUERY_CHOICES = MappingProxyType(
    {
        "protocol": frozenset({"2", "3"}),
        "ssl_cert_reqs": frozenset({"none", "optional", "required"}),
    }
)
BOOLEAN_WORDS = frozenset({"0", "1", "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n"})

REDIS_FORM = "redis://[[user]:password@]host[:port][/db], db a whole number such as 0"
SENTINEL_FORM = "redis+sentinel://[:password@]host:port[,host:port]/service_name[/db]"
CLUSTER_FORM = "redis+cluster://[:password@]host:port[,host:port]"
PERCENT_ENCODE = "a URL without '#'; write a '#' in a password as %23 (percent-encoded)"
SQLITE_FORM = (
    "sqlite:///sessions.db (relative to the working directory) or "
    "sqlite:////var/lib/app/sessions.db (absolute), in a folder that exists"
)


def hide_password(url: str) -> str:
    """The URL with any password replaced, for error messages."""
    scheme, separator, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    hidden = f"{user}:***" if colon else "***"
    return f"{scheme}{separator}{hidden}@{hosts}{slash}{tail}"


def check_scheme(url: str, where: str) -> None:
    """Refuse a URL whose scheme names no store porch has (the one check of it)."""
    if scheme_of(url) not in BACKENDS:
        accepted = f"a URL starting with one of {accepted_schemes()}"
        refuse(url, where, "its scheme names no session store", accepted)


def check_store_url(url: str, where: str) -> None:
    """Refuse a store URL that cannot be right; ``where`` names the option or variable."""
    check_scheme(url, where)
    scheme = scheme_of(url)
    if "#" in url:  # usually a password with a '#': the rest of the URL would be dropped
        refuse(url, where, "it contains '#', which ends the URL there", PERCENT_ENCODE)
    if scheme in ("redis", "rediss"):
        check_redis_url(url, where)
    elif scheme == "unix":
        check_unix_url(url, where)
    elif scheme == "redis+sentinel":
        check_sentinel_url(url, where)
    elif scheme == "redis+cluster":
        check_cluster_url(url, where)
    elif scheme == "sqlite":
        check_sqlite_url(url, where)
    elif scheme == "memory" and url.partition("://")[2]:
        refuse(url, where, "memory:// takes nothing after the scheme", "memory://")


def refuse(url: str, where: str, problem: str, accepted: str) -> None:
    raise ConfigError(f"{where} is {hide_password(url)!r}: {problem}; accepted: {accepted}.")


def check_redis_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    netloc_hosts = parts.netloc.rpartition("@")[2]
    if not netloc_hosts or netloc_hosts.startswith(":"):
        refuse(url, where, "the host is empty", REDIS_FORM)
    if "," in netloc_hosts:
        refuse(url, where, "several hosts need redis+sentinel:// or redis+cluster://", REDIS_FORM)
    check_port(url, where, netloc_hosts, REDIS_FORM)
    database = parts.path.strip("/")
    if database and not database.isdigit():
        refuse(url, where, f"the database {unquote(database)!r} is not a whole number", REDIS_FORM)
    check_redis_query(url, where, parts.query, REDIS_FORM)
    if database and "db" in dict(parse_qsl(parts.query)):
        refuse(url, where, "the database is given twice, in the path and as ?db=", REDIS_FORM)


def check_unix_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    form = "unix:///path/to/redis.sock[?db=0]"
    if not parts.path or parts.path == "/":
        refuse(url, where, "the socket path is empty", form)
    check_redis_query(url, where, parts.query, form)


def check_sentinel_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    check_host_ports(url, where, parts.netloc, SENTINEL_FORM)
    path = [segment for segment in parts.path.split("/") if segment]
    if not path:
        refuse(url, where, "the service name is missing", SENTINEL_FORM)
    if len(path) > 2:
        refuse(url, where, f"the path {parts.path!r} has too many parts", SENTINEL_FORM)
    if len(path) == 2 and not path[1].isdigit():
        problem = f"the database {unquote(path[1])!r} is not a whole number"
        refuse(url, where, problem, SENTINEL_FORM)
    if parts.query:
        refuse(url, where, f"query options ({parts.query!r}) are not read here", SENTINEL_FORM)


def check_cluster_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    check_host_ports(url, where, parts.netloc, CLUSTER_FORM)
    if parts.path.strip("/"):
        refuse(url, where, "a cluster has only database 0, so the URL takes no path", CLUSTER_FORM)
    if parts.query:
        refuse(url, where, f"query options ({parts.query!r}) are not read here", CLUSTER_FORM)


def check_host_ports(url: str, where: str, netloc: str, form: str) -> None:
    hosts = netloc.rpartition("@")[2]
    for item in hosts.split(","):
        host = item.strip().rpartition(":")[0] if "]" not in item else item.partition("]")[0]
        if not item.strip() or not host.strip("[]"):
            refuse(url, where, f"{item!r} is not host:port", form)
        if not check_port(url, where, item.strip(), form):
            refuse(url, where, f"{item!r} has no port", form)


def check_port(url: str, where: str, host_port: str, form: str) -> bool:
    """Refuse a port that is not a number from 1 to 65535; True when there is one."""
    after_host = host_port.rpartition("]")[2] if host_port.startswith("[") else host_port
    _, colon, port = after_host.rpartition(":")
    if not colon:
        return False
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        refuse(url, where, f"the port {port!r} is not a number from 1 to 65535", form)
    return True


def check_redis_query(url: str, where: str, query: str, form: str) -> None:
    """redis-py passes an unknown query option on to the connection, which fails per request."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in REDIS_QUERY:
            refuse(
                url,
                where,
                f"the query option {name!r} is unknown",
                f"{form}, with query options among {', '.join(sorted(REDIS_QUERY))}",
            )
        if name in REDIS_QUERY_NUMBERS and not is_number(value):
            refuse(url, where, f"the query option {name}={value!r} is not a number", form)
        if name in REDIS_QUERY_BOOLEANS and value.lower() not in BOOLEAN_WORDS:
            refuse(url, where, f"the query option {name}={value!r} is not true or false", form)
        choices = REDIS_QUERY_CHOICES.get(name)
        if choices is not None and value.lower() not in choices:
            accepted = f"{form}, with {name} one of {', '.join(sorted(choices))}"
            refuse(url, where, f"the query option {name}={value!r} is not known", accepted)


def is_number(value: str) -> bool:
    try:
        return float(value) >= 0
    except ValueError:
        return False


def check_sqlite_url(url: str, where: str) -> None:
    """The file may be created at start-up, but its folder must exist (SQLite makes no folders)."""
    rest = url.partition("://")[2]
    path_text, question, query = rest.partition("?")
    if not path_text.startswith("/") or path_text == "/":
        refuse(url, where, "the file path is missing", SQLITE_FORM)
    if question:
        refuse(url, where, f"query options ({query!r}) are not read", SQLITE_FORM)
    relative = path_text[1:]
    path = Path(relative) if relative.startswith("/") else Path.cwd() / relative
    if path.is_dir():
        refuse(url, where, f"{str(path)!r} is a folder, not a file", SQLITE_FORM)
    if not path.parent.is_dir():
        refuse(url, where, f"the folder {str(path.parent)!r} does not exist", SQLITE_FORM)
