"""Options: precedence, .env, conversion from the schema, start-up errors, the SECRET rules."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from porch import ConfigError, server
from porch.option_schema import load_options, read_environment
from porch.session.stores import MemoryStore

STRONG = "k" * 40


def test_defaults_match_the_design() -> None:
    options = load_options({}, {})
    assert options.port == 3000
    assert options.env == "development"
    assert options.public == "public"
    assert options.views == "views"
    assert options.log == "info"
    assert options.compress is True
    assert options.body_limit == 1024 * 1024
    assert options.security.csrf is True
    session = options.session
    assert session is not None
    assert session.store == "memory://"
    assert session.max_age == 14 * 24 * 3600
    assert session.absolute_max_age == 30 * 24 * 3600
    assert session.max_entries == 10_000
    assert session.timeout == 2.0
    assert session.cookie.name == "session"
    assert session.cookie.httponly is True
    assert session.cookie.samesite == "lax"
    assert session.cookie.path == "/"
    assert session.cookie.secure is False


def test_environment_beats_argument_beats_default() -> None:
    assert load_options({"port": 4000}, {"PORT": "5000"}).port == 5000
    assert load_options({"port": 4000}, {}).port == 4000
    assert load_options({}, {}).port == 3000


def test_values_are_converted_by_the_schema_not_by_their_look() -> None:
    options = load_options({}, {"VIEWS": "0123", "COMPRESS": "off", "BODY_LIMIT": "2mb"})
    assert options.views == "0123"
    assert options.compress is False
    assert options.body_limit == 2 * 1024 * 1024


def test_options_read_both_ways_and_refuse_writes() -> None:
    options = load_options({"port": 8080}, {})
    assert options.port == options["port"] == 8080
    assert options.session is not None
    assert options["session"]["max_age"] == options.session.max_age
    assert "port" in options and dict(options)["env"] == "development"
    with pytest.raises(AttributeError):
        options.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        options["port"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("arguments", "environ", "names"),
    [
        ({"port": "http"}, {}, ["'port'", "'http'", "whole number"]),
        ({}, {"PORT": "99999"}, ["PORT", "'99999'", "0 to 65535"]),
        ({"env": "staging"}, {}, ["'env'", "'staging'", "development, test, production"]),
        ({"log": "loud"}, {}, ["'log'", "'loud'", "debug, info"]),
        ({}, {"COMPRESS": "maybe"}, ["COMPRESS", "'maybe'", "true or false"]),
        ({"body_limit": "lots"}, {}, ["'body_limit'", "'lots'", "'10mb'"]),
        ({"session": {"max_age": -1}}, {}, ["'session.max_age'", "-1", "at least 1"]),
        ({"session": {"cookie": {"samesite": "loose"}}}, {}, ["samesite", "lax, strict, none"]),
        ({"session": {"store": "mongodb://x"}}, {}, ["'session.store'", "mongodb://x", "redis://"]),
        ({}, {"SESSION_STORE": "ftp://x"}, ["SESSION_STORE", "ftp://x", "sqlite://"]),
        ({"session": {"store": 42}}, {}, ["'session.store'", "int", "Store object"]),
        ({"prot": 80}, {}, ["unknown option 'prot'", "port"]),
        ({"session": {"maxage": 1}}, {}, ["unknown option 'session.maxage'", "max_age"]),
        ({"security": {"csfr": False}}, {}, ["unknown option 'security.csfr'", "csrf"]),
        ({"session": "yes"}, {}, ["'session'", "a dict of session options, or False"]),
    ],
)
def test_a_bad_value_fails_at_start_up_naming_option_value_and_accepted(
    arguments: dict[str, object], environ: dict[str, str], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_options(arguments, environ)
    for name in names:
        assert name in str(caught.value)


def test_a_bad_option_fails_in_server_not_on_the_first_request() -> None:
    with pytest.raises(ConfigError, match="'port'"):
        server(port="abc")  # type: ignore[arg-type]  # the wrong type is the point


def test_dotenv_is_read_without_overriding_real_variables(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_environment / ".env").write_text("PORT=4100\nLOG=debug\nMY_APP_SETTING=yes\n")
    monkeypatch.setenv("LOG", "error")
    app = server()
    assert app.options.port == 4100
    assert app.options.log == "error"
    assert read_environment()["MY_APP_SETTING"] == "yes"  # the user's own code sees it too


def test_dotenv_is_read_when_the_app_is_built_not_on_import(isolated_environment: Path) -> None:
    assert server().options.port == 3000
    (isolated_environment / ".env").write_text("PORT=4200\n")
    assert server().options.port == 4200


def test_secret_rotation_keeps_every_comma_separated_secret_in_order() -> None:
    options = load_options({}, {"SECRET": f"new-{STRONG}, old-{STRONG}"})
    assert options.secret.values == (f"new-{STRONG}", f"old-{STRONG}")


def test_session_secret_beats_secret() -> None:
    options = load_options({}, {"SECRET": "a" * 40, "SESSION_SECRET": "b" * 40})
    assert options.session is not None
    assert options.session.secret.values == ("b" * 40,)
    assert options.secret.values == ("a" * 40,)


def test_secrets_never_print() -> None:
    options = load_options({}, {"SECRET": STRONG})
    assert STRONG not in repr(options.secret)
    assert STRONG not in repr(options)
    assert STRONG not in str(options.secret)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "not set"),
        ("short-secret", "12 characters"),
        ("your-random-string-here", "placeholder"),
        (f"{STRONG},tiny", "4 characters"),
    ],
)
def test_production_refuses_a_missing_short_or_placeholder_secret(
    secret: str | None, reason: str
) -> None:
    environ = {"ENV": "production"} | ({"SECRET": secret} if secret else {})
    with pytest.raises(ConfigError) as caught:
        load_options({}, environ)
    message = str(caught.value)
    assert reason in message
    assert "secrets.token_urlsafe(32)" in message  # says how to make one


def test_production_accepts_a_long_random_secret_and_makes_cookies_secure() -> None:
    options = load_options({"env": "production", "secret": STRONG}, {})
    assert options.session is not None
    assert options.session.cookie.secure is True
    assert options.production


def test_development_without_secret_warns_once_and_uses_a_random_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="porch"):
        first = load_options({}, {})
        second = load_options({}, {})
    warnings = [record for record in caplog.records if "No SECRET" in record.message]
    assert len(warnings) == 2  # once per app built, not per request
    assert first.secret.generated and second.secret.generated
    assert first.secret.values != second.secret.values
    assert len(first.secret.values[0]) >= 32


def test_test_env_generates_a_secret_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="porch"):
        options = load_options({"env": "test"}, {})
    assert options.secret.generated
    assert not [record for record in caplog.records if "No SECRET" in record.message]


def test_session_false_and_SESSION_false_turn_sessions_off() -> None:
    assert load_options({"session": False}, {}).session is None
    assert load_options({}, {"SESSION": "false"}).session is None


def test_store_precedence_code_then_SESSION_STORE_then_REDIS_URL_then_memory() -> None:
    store = MemoryStore()
    environ = {"SESSION_STORE": "sqlite:///s.db", "REDIS_URL": "redis://127.0.0.1:1/0"}
    by_code = load_options({"session": {"store": store}}, environ).session
    by_url_in_code = load_options({"session": {"store": "memory://"}}, environ).session
    by_session_store = load_options({}, environ).session
    by_redis_url = load_options({}, {"REDIS_URL": "redis://127.0.0.1:1/0"}).session
    by_redis_option = load_options({"session": {"redis": "redis://127.0.0.1:2/0"}}, {}).session
    default = load_options({}, {}).session
    assert by_code is not None and by_code.store is store
    assert by_url_in_code is not None and by_url_in_code.store == "memory://"
    assert by_session_store is not None and by_session_store.store == "sqlite:///s.db"
    assert by_redis_url is not None and by_redis_url.store == "redis://127.0.0.1:1/0"
    assert by_redis_option is not None and by_redis_option.store == "redis://127.0.0.1:2/0"
    assert default is not None and default.store == "memory://"


def test_session_options_come_from_the_environment() -> None:
    environ = {
        "SESSION_MAX_AGE": "60",
        "SESSION_ABSOLUTE_MAX_AGE": "120",
        "SESSION_MAX_ENTRIES": "5",
        "SESSION_TIMEOUT": "0.5",
        "SECURITY_CSRF": "false",
    }
    options = load_options({}, environ)
    assert options.session is not None
    assert (options.session.max_age, options.session.absolute_max_age) == (60, 120)
    assert options.session.max_entries == 5
    assert options.session.timeout == 0.5
    assert options.security.csrf is False


def test_absolute_lifetime_shorter_than_idle_is_refused() -> None:
    with pytest.raises(ConfigError, match="absolute_max_age"):
        load_options({"session": {"max_age": 100, "absolute_max_age": 10}}, {})


def test_samesite_none_without_secure_is_refused() -> None:
    with pytest.raises(ConfigError, match="SameSite=None"):
        load_options({"session": {"cookie": {"samesite": "none"}}}, {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("2", 2), ("10.0.0.1, 10.0.0.2", ("10.0.0.1", "10.0.0.2"))],
)
def test_trust_proxy_accepts_switch_hops_or_addresses(value: str, expected: object) -> None:
    assert load_options({}, {"TRUST_PROXY": value}).trust_proxy == expected


def test_options_may_come_as_a_dict_among_the_middleware_as_in_server_js() -> None:
    assert server({"port": 4321}).options.port == 4321


def test_public_false_turns_static_files_off() -> None:
    assert load_options({"public": False}, {}).public is None
    assert load_options({}, {"PUBLIC": "false"}).public is None
