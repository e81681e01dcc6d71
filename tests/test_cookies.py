"""porch/cookies.py: the one parser of a Cookie header and the one builder of Set-Cookie headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from http.cookies import SimpleCookie
from urllib.parse import unquote

import pytest

from porch.cookies import expire_cookie_header, http_date, parse_cookies, set_cookie_header

# --- Set-Cookie ---


def parsed(header: str) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(header)
    return cookie


def test_the_defaults_are_path_slash_and_samesite_lax() -> None:
    assert set_cookie_header("name", "value") == "name=value; Path=/; SameSite=Lax"


def test_every_attribute_is_written_as_browsers_read_it() -> None:
    header = set_cookie_header(
        "session",
        "abc.def",
        max_age=3600,
        expires=0,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    assert header.split("; ") == [
        "session=abc.def",
        "Max-Age=3600",
        "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "Path=/app",
        "Domain=example.com",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
    ]
    morsel = parsed(header)["session"]
    assert (morsel.value, morsel["path"], morsel["domain"]) == ("abc.def", "/app", "example.com")


def test_no_path_and_no_samesite_leave_the_attributes_out() -> None:
    assert set_cookie_header("n", "v", path=None, samesite=None) == "n=v"


@pytest.mark.parametrize("value", ["a; Path=/evil", "a,b", "a b", 'a"b', "naïve", "100%", "x\r\ny"])
def test_a_value_that_could_break_the_header_is_percent_encoded(value: str) -> None:
    """A value never adds an attribute or a header: ';', ',', spaces, quotes, CR/LF are escaped."""
    header = set_cookie_header("n", value, samesite=None, path=None)
    encoded = header.removeprefix("n=")
    assert encoded.isascii() and not set(encoded) & set(';, "\\\r\n')
    assert unquote(encoded) == value


def test_an_expired_cookie_keeps_the_attributes_it_was_set_with() -> None:
    """A browser forgets a cookie only when name, path and domain match the one it holds."""
    header = expire_cookie_header("session", path="/app", domain="example.com", secure=True)
    assert header.split("; ") == [
        "session=",
        "Max-Age=0",
        "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "Path=/app",
        "Domain=example.com",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
    ]


def test_http_dates_from_timestamps_datetimes_and_strings() -> None:
    moment = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    expected = "Mon, 06 May 2030 07:08:09 GMT"
    assert http_date(int(moment.timestamp())) == expected
    assert http_date(moment) == expected
    assert http_date(moment.replace(tzinfo=None)) == expected  # naive: taken as UTC
    assert http_date(moment.astimezone(timezone(timedelta(hours=-5)))) == expected
    assert http_date("already formatted") == "already formatted"


# --- Cookie ---


@pytest.mark.parametrize("value", ["a; Path=/evil", "a,b", "a b", 'a"b', "naïve", "100%", "plain"])
def test_a_built_cookie_parses_back_to_its_value(value: str) -> None:
    """What ``set_cookie_header`` encodes, ``parse_cookies`` decodes: one pair of functions."""
    pair = set_cookie_header("name", value).split(";")[0]
    assert parse_cookies(f"other=1; {pair}") == {"other": "1", "name": value}


def test_an_empty_cookie_header_has_no_cookies() -> None:
    assert parse_cookies("") == {}
