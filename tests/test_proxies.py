"""Who the client is behind the trusted proxies: each hop counts only when every proxy nearer
to porch is trusted (the whole request, X-Forwarded-For included: tests/test_context.py and
tests/security/)."""

from __future__ import annotations

from porch.proxies import address_in, address_of, client_address, trusted_proxy_count

# The direct peer first, then X-Forwarded-For from right to left: nearest to farthest.
CHAIN = ["10.0.0.2", "10.0.0.1", "203.0.113.7", "198.51.100.9"]


def test_an_address_is_trusted_by_itself_or_by_a_range_it_falls_in() -> None:
    assert address_in("10.0.0.2", ("10.0.0.2",))
    assert address_in("10.1.2.3", ("10.0.0.0/8",))
    assert address_in("::1", ("::1/128",))
    assert not address_in("11.0.0.1", ("10.0.0.0/8",))
    assert not address_in("10.0.0.1", ("not a network",))  # a bad entry matches nothing
    assert address_in("unix-socket-peer", ("unix-socket-peer",))  # not an IP: as written


def test_no_trust_is_the_peer_and_full_trust_the_farthest_hop() -> None:
    assert client_address(CHAIN, False) == "10.0.0.2"
    assert client_address(CHAIN, True) == "198.51.100.9"


def test_a_count_of_proxies_trusts_that_many_hops_and_no_more_than_there_are() -> None:
    assert client_address(CHAIN, 1) == "10.0.0.1"
    assert client_address(CHAIN, 2) == "203.0.113.7"
    assert client_address(CHAIN, 9) == "198.51.100.9"


def test_trusted_addresses_stop_at_the_first_hop_that_is_not_one() -> None:
    """A client cannot hide behind a hop it wrote itself: the walk stops at the nearest
    untrusted one, whatever the farther entries claim."""
    assert client_address(CHAIN, ("10.0.0.0/8",)) == "203.0.113.7"
    assert client_address(["203.0.113.7", "10.0.0.1"], ("10.0.0.0/8",)) == "203.0.113.7"
    assert client_address(["10.0.0.2", "10.0.0.1"], ("10.0.0.0/8",)) == "10.0.0.1"
    assert client_address(["", "10.0.0.1"], False) is None  # no peer address: none


def test_the_count_of_trusted_proxies_follows_the_same_walk() -> None:
    forwarded = "198.51.100.9, 203.0.113.7,\t10.0.0.1"  # as a client and two proxies wrote it
    assert trusted_proxy_count(forwarded, True, most=5) == 5
    assert trusted_proxy_count(forwarded, 2, most=5) == 2
    assert trusted_proxy_count(forwarded, ("10.0.0.0/8",), most=5) == 2  # the peer, 10.0.0.1
    assert trusted_proxy_count(forwarded, ("0.0.0.0/0",), most=3) == 3  # at most ``most``


def test_an_entry_is_an_address_with_perhaps_a_port_and_nothing_else() -> None:
    assert address_of("203.0.113.9") == "203.0.113.9"
    assert address_of("203.0.113.9:5123") == "203.0.113.9"  # a proxy that adds the port
    assert address_of("[2001:db8::1]:443") == "2001:db8::1"
    assert address_of("[2001:DB8:0::1]") == "2001:db8::1"
    assert address_of("2001:db8::1") == "2001:db8::1"
    for entry in ("unknown", "<script>", "evil.example", "1.2.3.4:x", "[::1]x", "[::1", "1.2.3"):
        assert address_of(entry) is None, entry


def test_an_entry_that_names_no_address_stops_the_walk_at_the_hop_before_it() -> None:
    """The client wrote it (no proxy writes markup): ctx.ip is never text a client chose."""
    assert client_address(["10.0.0.2", "10.0.0.1", "<script>", "203.0.113.7"], True) == "10.0.0.1"
    assert client_address(["10.0.0.2", "unknown"], 1) == "10.0.0.2"
    assert client_address(["10.0.0.2", "' OR 1=1 --"], ("10.0.0.0/8",)) == "10.0.0.2"
    assert client_address(["10.0.0.2", "203.0.113.7:5123"], 1) == "203.0.113.7"
