"""porch/session/cookie.py: signing with rotation, and the one builder of Set-Cookie headers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from http.cookies import SimpleCookie
from urllib.parse import unquote

import pytest

from porch.session.cookie import (
    Signer,
    expire_cookie_header,
    http_date,
    session_key,
    set_cookie_header,
)

OLD, NEW = "o" * 40, "n" * 40
PURPOSE = "porch.session"

# --- signing ---


def test_a_signed_value_unsigns_to_itself() -> None:
    signer = Signer((NEW,), purpose=PURPOSE)
    for value in ("an-id", "with.dots.inside", "x" * 500):
        signed = signer.sign(value)
        assert signed.startswith(f"{value}.")
        assert signer.unsign(signed) == value


def test_the_first_secret_signs_and_every_one_verifies() -> None:
    """Rotation: put the new secret first and keep the old one until its cookies expire."""
    before = Signer((OLD,), purpose=PURPOSE).sign("an-id")
    rotated = Signer((NEW, OLD), purpose=PURPOSE)
    assert rotated.unsign(before) == "an-id"
    after = rotated.sign("an-id")
    assert after == Signer((NEW,), purpose=PURPOSE).sign("an-id")
    assert Signer((NEW,), purpose=PURPOSE).unsign(before) is None  # OLD retired
    assert Signer((OLD,), purpose=PURPOSE).unsign(after) is None


def test_every_tampered_cookie_is_refused() -> None:
    signer = Signer((NEW,), purpose=PURPOSE)
    signed = signer.sign("an-id")
    value, _, signature = signed.rpartition(".")
    other = "A" if signature[0] != "A" else "B"
    tampered = [
        f"another-id.{signature}",  # the value changed, the signature kept
        f"{value}.{other}{signature[1:]}",  # one character of the signature changed
        f"{value}.{signature[:-1]}",  # the signature cut short
        f"{value}.",  # no signature
        value,  # no separator
        f".{signature}",  # no value
        "",
        f"{value}é.{signature}",  # not ASCII
        Signer((NEW,), purpose="another purpose").sign("an-id"),  # signed for something else
        Signer(("x" * 40,), purpose=PURPOSE).sign("an-id"),  # a foreign secret
    ]
    assert [signer.unsign(cookie) for cookie in tampered] == [None] * len(tampered)


def test_a_signer_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        Signer((), purpose=PURPOSE)


def test_the_store_key_is_the_sha256_of_the_id() -> None:
    """A leaked store dump holds hashes, which cannot be sent back as cookies."""
    assert session_key("an-id") == hashlib.sha256(b"an-id").hexdigest()
    assert session_key("an-id") != session_key("an-id2")


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
