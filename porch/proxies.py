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


def address_of(entry: str) -> str | None:
    """The IP address an X-Forwarded-For entry names, else None.

    A proxy may add the client's port (``203.0.113.9:5123``, ``[2001:db8::1]:443``):
    the address is kept and the port dropped. Anything else (a name, ``unknown``,
    markup) was not written by a proxy: it names nobody.
    """
    text = entry
    if text.startswith("["):
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:  # IPv4 and a port; an IPv6 address has two colons or more
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(chain: list[str], trust: bool | int | tuple[str, ...]) -> str | None:
    """Walk the hops from nearest to farthest, stopping at the first one not trusted.

    ``chain`` is [the direct peer, then X-Forwarded-For from right to left]. A
    hop is believed when every hop nearer is trusted; an entry that names no IP
    address was written by the client, so the walk stops at the hop before it:
    ``ctx.ip`` is an address, never text a client chose.
    """
    found = chain[0] or None
    for index in range(1, len(chain)):
        believed = (
            trust is True
            or (type(trust) is int and index <= trust)
            or (isinstance(trust, tuple) and found is not None and address_in(found, trust))
        )
        address = address_of(chain[index]) if believed else None
        if address is None:
            break
        found = address
    return found


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
