"""Where a request comes from: which peers may speak for a client, the client's
address, and the network a per-client limit counts it under.

A peer in `TRUSTED_PROXIES` (addresses or CIDR ranges; none by default) may say who
its client was (`X-Forwarded-For`, `X-Forwarded-Proto`); any other peer is the client,
whatever headers it sends. An IPv6 client is counted under its /`IPV6_PREFIX_LENGTH`
prefix (64 by default: a home line or a phone's data session gets a whole /64, and
every address in it is the same client); an IPv4 client under its address.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` entries as networks; raises ValueError on one that is neither
    an address nor a CIDR range (the system check reports it at start-up)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


@functools.cache
def _trusted() -> tuple[Network, ...]:
    try:
        return parse_networks(settings.TRUSTED_PROXIES)
    except ValueError:
        return ()  # refused by the system check; trust nobody meanwhile


@functools.lru_cache(maxsize=4096)
def is_trusted_proxy(peer: str) -> bool:
    """True when `peer` (a socket's address) is in TRUSTED_PROXIES."""
    trusted = _trusted()
    if not trusted:
        return False
    try:
        address = _unmapped(ipaddress.ip_address(peer))
    except ValueError:
        return False
    return any(address in network for network in trusted)


def strip_untrusted_forwarding(environ: dict) -> None:
    """Drop what only a trusted proxy may say from a request whose peer is not one."""
    if not is_trusted_proxy(environ.get("REMOTE_ADDR") or ""):
        for header in FORWARDING_HEADERS:
            environ.pop(header, None)


def client_address(meta: dict) -> str:
    """The client's address: the socket's peer, or, when that peer is a trusted proxy,
    the address the outermost of `TRUSTED_PROXY_COUNT` proxies saw (`X-Forwarded-For`,
    counted from the right)."""
    peer = meta.get("REMOTE_ADDR") or "unknown"
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0 or not is_trusted_proxy(peer):
        return peer
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < count:
        return peer
    try:
        return str(_unmapped(ipaddress.ip_address(hops[-count])))
    except ValueError:
        return peer


@functools.lru_cache(maxsize=4096)
def network_of(address: str) -> str:
    """The subject a per-client limit counts `address` under: an IPv4 address itself,
    an IPv6 address's /IPV6_PREFIX_LENGTH prefix (anything else, as it is)."""
    try:
        parsed = _unmapped(ipaddress.ip_address(address))
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    prefix = ipaddress.ip_network(f"{parsed}/{settings.IPV6_PREFIX_LENGTH}", strict=False)
    return str(prefix)


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """An IPv4-mapped IPv6 address (::ffff:192.0.2.1, from a dual-stack socket) as the
    IPv4 address it is."""
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@receiver(setting_changed)
def _forget(setting, **kwargs) -> None:
    if setting in ("TRUSTED_PROXIES", "IPV6_PREFIX_LENGTH"):
        _trusted.cache_clear()
        is_trusted_proxy.cache_clear()
        network_of.cache_clear()
