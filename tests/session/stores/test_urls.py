"""A store URL that cannot be right stops start-up, naming its source and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from porch import server
from porch.errors import ConfigError
from porch.session.stores.urls import hide_password

BAD_URLS = [
    ("redis://127.0.0.1:6390/abc", "the database 'abc' is not a whole number"),
    ("redis://127.0.0.1:6390/0/1", "the database '0/1' is not a whole number"),
    ("redis://127.0.0.1:6390/-1", "the database '-1' is not a whole number"),
    ("redis://127.0.0.1:99999/0", "the port '99999' is not a number from 1 to 65535"),
    ("redis://127.0.0.1:0/0", "the port '0' is not a number from 1 to 65535"),
    ("redis://127.0.0.1:abc/0", "the port 'abc' is not a number from 1 to 65535"),
    ("redis://:6390/0", "the host is empty"),
    ("redis:///0", "the host is empty"),
    ("rediss://", "the host is empty"),
    ("redis://a:1,b:2/0", "several hosts need redis+sentinel:// or redis+cluster://"),
    ("redis://127.0.0.1:6390/0?foo=1", "the query option 'foo' is unknown"),
    ("redis://127.0.0.1:6390/0?db=x", "the query option db='x' is not a number"),
    ("redis://127.0.0.1:6390/0?socket_timeout=soon", "socket_timeout='soon' is not a number"),
    ("redis://127.0.0.1:6390/0?retry_on_timeout=maybe", "is not true or false"),
    ("redis://127.0.0.1:6390/0?protocol=4", "the query option protocol='4' is not known"),
    ("rediss://127.0.0.1:6390/0?ssl_cert_reqs=maybe", "ssl_cert_reqs='maybe' is not known"),
    ("redis://127.0.0.1:6390/1?db=2", "the database is given twice"),
    ("redis://:pa#ss@127.0.0.1:6390/0", "it contains '#', which ends the URL there"),
    ("sqlite:///sessions#1.db", "it contains '#'"),
    ("unix://", "the socket path is empty"),
    ("unix:///run/redis.sock?db=abc", "the query option db='abc' is not a number"),
    ("redis+sentinel://h:26379", "the service name is missing"),
    ("redis+sentinel://h:26379/mymaster/x", "the database 'x' is not a whole number"),
    ("redis+sentinel://h:26379,h2/mymaster", "'h2' is not host:port"),
    ("redis+sentinel://h:26379/a/0/b", "has too many parts"),
    ("redis+sentinel://h:26379/mymaster?db=1", "query options"),
    ("redis+cluster://h:7000/1", "a cluster has only database 0"),
    ("redis+cluster://h:7000,:7001", "':7001' is not host:port"),
    ("redis+cluster://h:70000", "the port '70000'"),
    ("memory://sessions", "memory:// takes nothing after the scheme"),
    ("sqlite:///missing-folder/sessions.db", "does not exist"),
    ("sqlite:////nonexistent-porch-folder/sessions.db", "does not exist"),
    ("sqlite:///", "the file path is missing"),
    ("sqlite:///sessions.db?mode=ro", "query options ('mode=ro') are not read"),
]


@pytest.mark.parametrize(("url", "problem"), BAD_URLS)
def test_a_store_url_that_cannot_be_right_stops_start_up(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        server(session={"store": url})
    message = str(raised.value)
    assert message.startswith(f"option 'session.store' is {hide_password(url)!r}: ")
    assert problem in message
    assert "; accepted: " in message


@pytest.mark.parametrize(
    ("variable", "where"),
    [("REDIS_URL", "REDIS_URL"), ("SESSION_STORE", "SESSION_STORE (environment)")],
)
def test_the_message_names_the_variable_the_url_came_from(
    variable: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "redis://127.0.0.1:6390/abc")
    with pytest.raises(ConfigError) as raised:
        server()
    assert str(raised.value).startswith(f"{where} is 'redis://127.0.0.1:6390/abc': the database")


def test_the_message_never_shows_the_password() -> None:
    with pytest.raises(ConfigError) as raised:
        server(session={"store": "redis://admin:hunter2@127.0.0.1:6390/abc"})
    assert "hunter2" not in str(raised.value)
    assert "'redis://admin:***@127.0.0.1:6390/abc'" in str(raised.value)


def test_a_sqlite_url_naming_a_folder_is_refused(isolated_environment: Path) -> None:
    (isolated_environment / "data").mkdir()
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        server(session={"store": "sqlite:///data"})


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "redis://localhost",
        "redis://127.0.0.1:6390",
        "redis://127.0.0.1:6390/",
        "redis://127.0.0.1:6390/15",
        "redis://:pw@[::1]:6390/3?socket_timeout=1&retry_on_timeout=true",
        "rediss://user:pw@cache.example.com:6380/0?ssl_cert_reqs=none",
        "unix:///run/redis.sock?db=2",
        "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379/mymaster/0",
        "redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
        "sqlite:///sessions.db",
    ],
)
def test_urls_that_can_be_right_are_accepted(url: str) -> None:
    server(session={"store": url})  # builds; nothing connects before start-up


def test_an_absolute_sqlite_url_in_an_existing_folder_is_accepted(tmp_path: Path) -> None:
    server(session={"store": f"sqlite:///{tmp_path}/sessions.db"})
