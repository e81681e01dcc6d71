"""The options' schema: one declarative table, merged from the environment, arguments and defaults.

Precedence, highest first: environment (``.env`` included, never overriding a
variable already set), argument, default; the session store is the one
exception (a store passed in code wins; see ``resolve_store``). Every value is
converted by the type its option declares, never guessed from how it looks, and
a bad one fails here, at start-up, naming the option, the value and what is
accepted. Nothing else in porch reads ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from dotenv import dotenv_values

from .converters import (
    Convert,
    boolean,
    choice,
    content_security_policy,
    domain_name,
    endpoint_or_off,
    file_or_off,
    folder_or_off,
    host_list,
    integer,
    number,
    one_of_or_off,
    optional_text,
    size,
    strict_transport,
    text,
    trust,
)
from .cookies import SAME_SITE
from .errors import ConfigError
from .option_types import ReferrerPolicy
from .options import (
    DAY,
    CookieOptions,
    Env,
    Options,
    Secret,
    SecurityOptions,
    SessionOptions,
)
from .session.stores import Store
from .session.stores.urls import check_store_url

log = logging.getLogger("porch")

MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"your-random-string-here", "secret", "changeme", "change-me"})
MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class Option:
    """One row of the schema: its name, how to convert it, its default and its variable."""

    name: str
    convert: Convert
    default: Any
    env: str | None


TOP_LEVEL = (
    Option("port", integer(0, 65535), 3000, "PORT"),
    Option("env", choice("development", "test", "production"), "development", "ENV"),
    Option("secret", optional_text, None, "SECRET"),
    Option("public", folder_or_off, "public", "PUBLIC"),
    Option("views", text, "views", "VIEWS"),
    Option("log", choice("debug", "info", "warning", "error", "critical"), "info", "LOG"),
    Option("compress", boolean, True, "COMPRESS"),
    Option("favicon", file_or_off, None, "FAVICON"),
    Option("domain", domain_name, None, "DOMAIN"),
    Option("trust_proxy", trust, False, "TRUST_PROXY"),
    Option("body_limit", size, 1024 * 1024, "BODY_LIMIT"),
    Option("host", text, "127.0.0.1", "HOST"),
    Option("server", choice("granian", "uvicorn"), "granian", "SERVER"),
    Option("header_timeout", number(0), 10.0, "HEADER_TIMEOUT"),
    Option("body_timeout", number(0), 60.0, "BODY_TIMEOUT"),
    Option("keep_alive", number(0), 5.0, "KEEP_ALIVE"),
    Option("max_concurrency", integer(1), 1000, "MAX_CONCURRENCY"),
    Option("stop_timeout", integer(1, 1800), 30, "STOP_TIMEOUT"),
    Option("health", endpoint_or_off("/health"), None, "HEALTH"),
    Option("metrics", endpoint_or_off("/metrics"), None, "METRICS"),
)
SESSION = (
    Option("secret", optional_text, None, "SESSION_SECRET"),
    Option("redis", optional_text, None, "REDIS_URL"),
    Option("max_age", integer(1), 14 * DAY, "SESSION_MAX_AGE"),
    Option("absolute_max_age", integer(1), 30 * DAY, "SESSION_ABSOLUTE_MAX_AGE"),
    Option("max_entries", integer(1), 10_000, "SESSION_MAX_ENTRIES"),
    Option("timeout", number(0), 2.0, "SESSION_TIMEOUT"),
    Option("max_size", size, 64 * 1024, "SESSION_MAX_SIZE"),
    Option("encrypt", boolean, False, "SESSION_ENCRYPT"),
)
SESSION_NAMES = frozenset({"store", "cookie"} | {option.name for option in SESSION})
COOKIE = (
    Option("name", text, "session", "SESSION_COOKIE_NAME"),
    Option("path", text, "/", None),
    Option("domain", optional_text, None, "SESSION_COOKIE_DOMAIN"),
    Option("secure", boolean, None, "SESSION_COOKIE_SECURE"),
    Option("httponly", boolean, True, None),
    Option("samesite", choice(*SAME_SITE), "lax", "SESSION_COOKIE_SAMESITE"),
    Option("host_prefix", boolean, False, "SESSION_COOKIE_HOST_PREFIX"),
)
REFERRER_POLICIES: tuple[str, ...] = get_args(ReferrerPolicy)  # the Literal is the one list
SECURITY = (
    Option("csrf", boolean, True, "SECURITY_CSRF"),
    Option("content_type_options", boolean, True, "SECURITY_CONTENT_TYPE_OPTIONS"),
    Option(
        "frame_options", one_of_or_off("sameorigin", "deny"), "sameorigin", "SECURITY_FRAME_OPTIONS"
    ),
    Option(
        "referrer_policy",
        one_of_or_off(*REFERRER_POLICIES),
        "strict-origin-when-cross-origin",
        "SECURITY_REFERRER_POLICY",
    ),
    Option(
        "opener_policy",
        one_of_or_off("same-origin", "same-origin-allow-popups", "unsafe-none"),
        "same-origin",
        "SECURITY_OPENER_POLICY",
    ),
    Option("csp", content_security_policy, None, "SECURITY_CSP"),
    Option("hsts", strict_transport, "max-age=31536000", "SECURITY_HSTS"),
    Option("hosts", host_list, (), "SECURITY_HOSTS"),
    Option("header_limit", size, 32 * 1024, "SECURITY_HEADER_LIMIT"),
    Option("json_depth", integer(1), 64, "SECURITY_JSON_DEPTH"),
    Option("max_fields", integer(1), 1000, "SECURITY_MAX_FIELDS"),
    Option("max_files", integer(0), 100, "SECURITY_MAX_FILES"),
    Option("max_part_size", size, 1024 * 1024, "SECURITY_MAX_PART_SIZE"),
)


def read_environment(cwd: Path | None = None) -> dict[str, str]:
    """The process environment, plus the working directory's ``.env`` for what it lacks.

    The ``.env`` values are also put into ``os.environ`` (never over a variable
    already set), so the user's own code sees them too, as with server.js.
    """
    dotenv_path = (cwd or Path.cwd()) / ".env"
    if dotenv_path.is_file():
        for name, value in dotenv_values(dotenv_path).items():
            if value is not None:
                os.environ.setdefault(name, value)
    return dict(os.environ)


def resolve(
    option: Option, arguments: Mapping[str, Any], environ: Mapping[str, str], scope: str
) -> Any:
    """Environment beats argument beats default; the value is converted and validated here."""
    label = f"{scope}{option.name}"
    if option.env is not None and option.env in environ:
        return option.convert(
            environ[option.env], f"{option.env} (environment, for option {label!r})"
        )
    if option.name in arguments:
        return option.convert(arguments[option.name], f"option {label!r}")
    return option.default


def check_names(given: Mapping[str, Any], accepted: frozenset[str], scope: str) -> None:
    """A misspelt option fails loudly instead of silently keeping its default."""
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise ConfigError(
            f"unknown option '{scope}{unknown[0]}'; accepted: {', '.join(sorted(accepted))}."
        )


def section(value: Any, name: str) -> Mapping[str, Any] | None:
    """A nested option (session=, security=): a dict, or False to turn it off."""
    if value is False:
        return None
    if value is None or value is True:
        return {}
    if isinstance(value, Mapping):
        return value
    raise ConfigError(
        f"option {name!r} is {value!r}; accepted: a dict of {name} options, or False."
    )


def load_options(arguments: Mapping[str, Any], environ: Mapping[str, str]) -> Options:
    """Resolve every option from the environment, the arguments and the defaults."""
    top_names = frozenset(option.name for option in TOP_LEVEL) | {"session", "security"}
    check_names(arguments, top_names, "")
    values = {option.name: resolve(option, arguments, environ, "") for option in TOP_LEVEL}
    env: Env = values["env"]
    secret = resolve_secret(values.pop("secret"), env)
    session_arguments = section(arguments.get("session"), "session")
    if "SESSION" in environ and not boolean(environ["SESSION"], "SESSION (environment)"):
        session_arguments = None
    security_arguments = section(arguments.get("security"), "security") or {}
    check_names(security_arguments, frozenset(option.name for option in SECURITY), "security.")
    security = SecurityOptions(
        **{
            option.name: resolve(option, security_arguments, environ, "security.")
            for option in SECURITY
        }
    )
    session = (
        None
        if session_arguments is None
        else load_session_options(session_arguments, environ, env=env, app_secret=secret)
    )
    return Options(secret=secret, session=session, security=security, **values)


def load_session_options(
    arguments: Mapping[str, Any], environ: Mapping[str, str], *, env: Env, app_secret: Secret
) -> SessionOptions:
    check_names(arguments, SESSION_NAMES, "session.")
    values = {option.name: resolve(option, arguments, environ, "session.") for option in SESSION}
    own_secret = values.pop("secret")
    secret = app_secret if own_secret is None else resolve_secret(own_secret, env)
    store = resolve_store(arguments.get("store"), environ, redis_url=values.pop("redis"))
    cookie_arguments = section(arguments.get("cookie"), "session.cookie") or {}
    check_names(cookie_arguments, frozenset(option.name for option in COOKIE), "session.cookie.")
    cookie_values = {
        option.name: resolve(option, cookie_arguments, environ, "session.cookie.")
        for option in COOKIE
    }
    if cookie_values["secure"] is None:
        cookie_values["secure"] = env == "production" or cookie_values["host_prefix"]
    if cookie_values["host_prefix"]:
        check_host_prefix(cookie_values)
        cookie_values["name"] = f"__Host-{cookie_values['name']}"
    if cookie_values["samesite"] == "none" and not cookie_values["secure"]:
        raise ConfigError(
            "option 'session.cookie.samesite' is 'none' but the cookie is not secure; browsers "
            "drop SameSite=None cookies without Secure. Set session={'cookie': {'secure': True}}."
        )
    if values["absolute_max_age"] < values["max_age"]:
        raise ConfigError(
            f"option 'session.absolute_max_age' ({values['absolute_max_age']}) is shorter than "
            f"'session.max_age' ({values['max_age']}); the absolute lifetime must be the longer."
        )
    return SessionOptions(
        store=store, secret=secret, cookie=CookieOptions(**cookie_values), **values
    )


def check_host_prefix(cookie: Mapping[str, Any]) -> None:
    """Browsers only keep a ``__Host-`` cookie that is Secure, on Path=/ and without Domain."""
    if not cookie["secure"] or cookie["path"] != "/" or cookie["domain"]:
        raise ConfigError(
            "option 'session.cookie.host_prefix' is True, but the cookie is "
            f"secure={cookie['secure']!r}, path={cookie['path']!r}, domain={cookie['domain']!r}; "
            "browsers keep a __Host- cookie only with secure=True, path='/' and no domain."
        )


def resolve_store(given: Any, environ: Mapping[str, str], *, redis_url: str | None) -> Store | str:
    """A store in code > SESSION_STORE > REDIS_URL > memory: code that builds a store means it."""
    if isinstance(given, Store):
        return given
    if given is not None and not isinstance(given, str):
        raise ConfigError(
            f"option 'session.store' is a {type(given).__name__}; accepted: a Store object "
            "(a subclass of porch.session.stores.Store) or a store URL such as 'sqlite:///sessions.db'."
        )
    url = given or environ.get("SESSION_STORE") or redis_url or "memory://"
    where = (
        "option 'session.store'"
        if given
        else ("SESSION_STORE (environment)" if environ.get("SESSION_STORE") else "REDIS_URL")
    )
    check_store_url(url, where)  # the scheme too, with the password hidden
    return url


def resolve_secret(raw: str | None, env: Env) -> Secret:
    """Apply the SECRET rules: refuse a weak one in production, generate one elsewhere."""
    values = tuple(part.strip() for part in (raw or "").split(",") if part.strip())
    if env == "production":
        check_production_secrets(values)
        return Secret(values)
    if values:
        return Secret(values)
    if env == "development":
        log.warning(
            "No SECRET is set, so porch signs sessions with a random secret for this process: "
            "sessions will not survive a restart. Put SECRET=... in .env; make one with: %s",
            MAKE_A_SECRET,
        )
    return Secret((secrets.token_urlsafe(32),), generated=True)


def check_production_secrets(values: tuple[str, ...]) -> None:
    how = f"Make one with: {MAKE_A_SECRET} and set it as SECRET in the environment or .env."
    if not values:
        raise ConfigError(
            "SECRET is not set; in production it is required, because it signs every session "
            f"cookie. {how}"
        )
    for value in values:
        if value.lower() in PLACEHOLDER_SECRETS:
            raise ConfigError(
                f"SECRET is the placeholder {value!r}; in production it must be unique, long and "
                f"random, because it signs every session cookie. {how}"
            )
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"SECRET is {len(value)} characters long; in production it must be at least "
                f"{MIN_SECRET_LENGTH}, because it signs every session cookie. {how}"
            )
