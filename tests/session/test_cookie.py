"""porch/session/cookie.py: signing with rotation, and the session's key in the store."""

from __future__ import annotations

import hashlib

import pytest

from porch.session.cookie import Signer, session_key

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
