"""Who the client is behind the proxies the ``trust_proxy`` option names.

X-Forwarded-For and its kin are written by whoever sends the request, so a
hop counts only when each proxy nearer to porch is trusted: by count, by
address or CIDR range, or all (``trust_proxy=True``).
"""

from __future__ import annotations

import ipaddress

# Optional whitespace around the entries of a comma-separated header (RFC 9110 OWS).
OWS = " \t"


def address_in(address: str, networks: tuple[str, ...]) -> bool:
    """Whether an address is one of the trusted proxies (addresses or CIDR ranges)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in networks
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(chain: list[str], trust: bool | int | tuple[str, ...]) -> str | None:
    """Walk the hops from nearest to farthest, stopping at the first one not trusted.

    ``chain`` is [the direct peer, then X-Forwarded-For from right to left].
    """
    if trust is True:
        return chain[-1] or None
    if trust is False:
        return chain[0] or None
    if isinstance(trust, int):
        return chain[min(trust, len(chain) - 1)] or None
    for hop in chain[:-1]:
        if not address_in(hop, trust):
            return hop or None
    return chain[-1] or None


def trusted_proxy_count(forwarded_for: str, trust: bool | int | tuple[str, ...], most: int) -> int:
    """How many proxies in front of porch are trusted (at least the direct peer, which is)."""
    if trust is True:
        return most
    if isinstance(trust, int):
        return trust
    hops = [hop.strip(OWS) for hop in reversed(forwarded_for.split(",")) if hop.strip(OWS)]
    count = 1  # the direct peer, checked by is_from_trusted_proxy
    for hop in hops[: most - 1]:
        if not address_in(hop, trust):
            break
        count += 1
    return count
