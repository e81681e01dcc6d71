"""The subdomain a Host header names, as ``sub()`` reads it (its routes: tests/test_router.py)."""

from __future__ import annotations

import re

import pytest

from porch.subdomain import Subdomain, subdomain_of


@pytest.mark.parametrize(
    ("host", "subdomain"),
    [
        ("api.example.com", "api"),
        ("API.Example.com:3000", "api"),  # case and port do not matter
        ("eu.api.example.com", "eu.api"),
        ("example.com", ""),  # the bare domain
        ("api.localhost:3000", "api"),  # development: *.localhost
        ("localhost", ""),
        ("127.0.0.1:3000", None),  # an IP address has no subdomains
        ("[::1]:3000", None),
        ("not a host", None),
    ],
)
def test_without_the_domain_option_the_base_domain_is_the_last_two_labels(
    host: str, subdomain: str | None
) -> None:
    assert subdomain_of(host, None) == subdomain


def test_the_domain_option_names_the_base_domain_and_a_host_outside_has_none() -> None:
    assert subdomain_of("shop.example.co.uk", "example.co.uk") == "shop"
    assert subdomain_of("example.co.uk", "example.co.uk") == ""
    assert subdomain_of("example.com", "example.co.uk") is None
    assert subdomain_of("badexample.co.uk", "example.co.uk") is None  # a label, not a suffix


def test_a_name_is_read_as_the_host_gives_it_and_a_regex_is_kept() -> None:
    assert Subdomain(" .API. ").pattern == "api"
    pattern = re.compile(r"[a-z]+\.api")
    assert Subdomain(pattern).pattern is pattern
    assert repr(Subdomain("api")) == "sub('api')"
    assert repr(Subdomain(pattern)) == r"sub('[a-z]+\\.api')"
