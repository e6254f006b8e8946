"""Which address a request comes from, for the sign-in throttle.

``X-Forwarded-For`` is believed only from a configured proxy (``--trusted-proxy`` /
``KUZNIA_TRUSTED_PROXIES``): anyone else could write any address in it and so sign in
from as many addresses as they like, or lock out someone else's. From a trusted proxy the
address is the right-most one in the header that is not itself a trusted proxy (each
proxy appends the address it was called from; only the ones we trust may be believed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

from kuznia.errors import UsageError
from kuznia.i18n import N_

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/8``, ``::1``), split on commas too;
    a value that is neither is a usage error naming ``trusted_proxy``.

    >>> [str(n) for n in parse_proxies(["10.0.0.5, 192.168.0.0/16"])]
    ['10.0.0.5/32', '192.168.0.0/16']
    """
    out = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise UsageError(N_("{trusted_proxy} takes an IP address or network "
                                    "(10.0.0.5, 10.0.0.0/8), not %(value)s"),
                                 params=("trusted_proxy",), value=repr(part[:60])) from None
    return tuple(out)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in n for n in proxies)


def client_address(request: Request) -> str | None:
    """The address the request comes from: the peer's own, unless the peer is a trusted
    proxy (``request.app.state.trusted_proxies``)."""
    peer = request.client.host if request.client else None
    proxies: tuple[Network, ...] = getattr(request.app.state, "trusted_proxies", ())
    if peer is None or not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for")
            for h in v.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer
