"""Where an inspection may connect: the egress policy.

The operator inspects images named by TaskRun authors, from inside the cluster, so without rules the image host,
the Bearer ``realm`` URL and every redirect are requests the author aims from the operator's network position
(SSRF): at the cloud metadata service, at the API server, at internal services whose answers (a "token") the
operator would then forward. An :class:`EgressPolicy` decides, before anything is sent:

* **realms and redirects** stay on the registry's own host, or go to a host on the administrator's list
  (``allowed_hosts``: ``host``, ``host:port`` or ``*.domain``) — Docker Hub's realm ``auth.docker.io`` or an S3
  bucket serving blobs must be listed;
* **addresses**: every connection's resolved address must be public; private, loopback, link-local, shared
  (CGNAT), multicast and reserved ranges — also when wrapped in IPv6 (``::ffff:a.b.c.d``, NAT64, 6to4) — are
  refused unless listed in ``allowed_private`` (a CIDR network, or a ``host[:port]`` whose every address is then
  allowed). The check runs on the address actually connected to, after DNS, so a name that resolves differently
  the second time (DNS rebinding) gains nothing;
* **plain HTTP** only to registries (and realms, redirects) listed in ``insecure_registries``;
* **credentials and tokens** go only to the registry's own origin and its realm; a redirect to another origin
  is followed without them.

Violations raise :class:`~task_api.image.errors.EgressDenied` or
:class:`~task_api.image.errors.InsecureTransport`, naming the host and the rule, never a credential.

:meth:`EgressPolicy.unrestricted` is the behaviour without a policy (the CLI on a workstation, and
:func:`~task_api.image.inspect.inspect_image` when none is given): any host, loopback registries over plain HTTP,
credentials never over plain HTTP to anyone else. :meth:`EgressPolicy.from_env` reads the operator's
``TASK_API_EGRESS_*`` keys. Everything here is pure (no DNS: addresses are handed in).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx

from task_api.image.errors import EgressDenied, InsecureTransport
from task_api.image.reference import is_loopback_host, split_host_port

__all__ = ["EgressPolicy", "address_is_public"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_is_public(address: IPAddress) -> bool:
    """Whether an address is globally routable unicast (pure). IPv4 inside IPv6 is judged as the IPv4 it wraps."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return address_is_public(inner)
    return address.is_global and not address.is_multicast


def _host_port(netloc: str) -> tuple[str, int | None]:
    host, port = split_host_port(netloc.strip().lower())
    return host, port


def _url_host_port(url: httpx.URL) -> tuple[str, int]:
    return url.host.lower(), url.port or (443 if url.scheme == "https" else 80)


@dataclass(frozen=True)
class EgressPolicy:
    """What an inspection may reach. The default instance is the strictest: public registries over HTTPS only."""

    #: Extra hosts realms and redirects may go to (``host``, ``host:port``, ``*.domain``); None: any host.
    allowed_hosts: tuple[str, ...] | None = ()
    #: Non-public targets allowed: CIDR networks, or ``host[:port]`` names; None: every address is allowed.
    allowed_private: tuple[str, ...] | None = ()
    #: Registries (``host[:port]``) spoken to over plain HTTP.
    insecure_registries: tuple[str, ...] = ()
    #: Loopback registries get plain HTTP without being listed (a workstation's ``localhost:5000``).
    loopback_plain_http: bool = False
    #: Realms and redirects obey ``insecure_registries`` too; False: only credentials are kept off plain HTTP.
    strict_transport: bool = True

    def __post_init__(self) -> None:
        for entry in self.allowed_private or ():
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(
                        f"allowed private target {entry!r} is not a CIDR network (e.g. 10.0.0.0/8)"
                    ) from None
        for entry in (*(self.allowed_hosts or ()), *self.insecure_registries):
            if not entry or any(c.isspace() or c in "/@" for c in entry):
                raise ValueError(f"host {entry!r} is not host[:port] or *.domain")

    @classmethod
    def unrestricted(cls, insecure_registries: Iterable[str] = ()) -> EgressPolicy:
        """Any host and address; plain HTTP to loopback and listed registries (pure)."""
        return cls(
            allowed_hosts=None,
            allowed_private=None,
            insecure_registries=tuple(insecure_registries),
            loopback_plain_http=True,
            strict_transport=False,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EgressPolicy:
        """The operator's policy from its configuration (pure); raises ValueError naming the key.

        ``TASK_API_EGRESS_ALLOWED_HOSTS`` (realm and redirect hosts besides the registry's own),
        ``TASK_API_EGRESS_ALLOW_PRIVATE`` (CIDRs or ``host[:port]``), ``TASK_API_INSECURE_REGISTRIES``; each a
        comma-separated list. Loopback registries are not implicitly plain HTTP here.
        """

        def items(key: str) -> tuple[str, ...]:
            return tuple(x.strip() for x in env.get(key, "").replace("\n", ",").split(",") if x.strip())

        hosts = items("TASK_API_EGRESS_ALLOWED_HOSTS")
        private = items("TASK_API_EGRESS_ALLOW_PRIVATE")
        insecure = items("TASK_API_INSECURE_REGISTRIES")
        checks: tuple[tuple[str, dict[str, tuple[str, ...]]], ...] = (
            ("TASK_API_EGRESS_ALLOWED_HOSTS", {"allowed_hosts": hosts}),
            ("TASK_API_EGRESS_ALLOW_PRIVATE", {"allowed_private": private}),
            ("TASK_API_INSECURE_REGISTRIES", {"insecure_registries": insecure}),
        )
        for key, one in checks:
            try:
                cls(**one)  # type: ignore[arg-type]  # one field at a time, so an error names its key
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return cls(allowed_hosts=hosts, allowed_private=private, insecure_registries=insecure)

    # -- decisions ---------------------------------------------------------------------------------------------
    def plain_http_allowed(self, netloc: str) -> bool:
        """Whether ``host[:port]`` may be spoken to over plain HTTP (pure)."""
        if self.loopback_plain_http and is_loopback_host(netloc):
            return True
        host, port = _host_port(netloc)
        for entry in self.insecure_registries:
            e_host, e_port = _host_port(entry)
            if e_host == host and (e_port is None or e_port == port):
                return True
        return False

    def host_allowed(self, host: str, port: int, *, registry: str) -> bool:
        """Whether a realm or redirect may go to ``host:port`` for the registry ``registry`` (pure)."""
        if self.allowed_hosts is None:
            return True
        host = host.lower().rstrip(".")
        if host == _host_port(registry)[0].rstrip("."):
            return True
        for entry in self.allowed_hosts:
            e_host, e_port = _host_port(entry)
            if e_port is not None and e_port != port:
                continue
            if e_host.startswith("*."):
                if host.endswith(e_host[1:]) and host != e_host[2:]:
                    return True
            elif e_host.rstrip(".") == host:
                return True
        return False

    def address_allowed(self, host: str, port: int, address: IPAddress) -> bool:
        """Whether a connection for ``host:port`` may go to ``address`` (pure)."""
        if self.allowed_private is None or address_is_public(address):
            return True
        host = host.lower().rstrip(".").strip("[]")
        for entry in self.allowed_private:
            if "/" in entry:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
                continue
            e_host, e_port = _host_port(entry)
            if e_host.strip("[]").rstrip(".") == host and (e_port is None or e_port == port):
                return True
        return False

    def check_url(self, url: str, *, registry: str, what: str, image: str) -> None:
        """Refuse a realm or redirect URL this policy does not allow (pure).

        ``what`` names the URL's role in messages ("token realm", "redirect"). Raises :class:`EgressDenied` or
        :class:`InsecureTransport`.
        """
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise EgressDenied(f"{image}: the {what} is not a valid URL", image=image) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise EgressDenied(f"{image}: the {what} must be an http(s) URL with a host", image=image)
        host, port = _url_host_port(parsed)
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if not self.host_allowed(host, port, registry=registry):
            raise EgressDenied(
                f"{image}: the {what} points at {netloc}, which is neither the registry's host "
                f"({_host_port(registry)[0]}) nor on the administrator's list (TASK_API_EGRESS_ALLOWED_HOSTS)",
                image=image,
            )
        if self.strict_transport and parsed.scheme == "http" and not self.plain_http_allowed(netloc):
            raise InsecureTransport(
                f"{image}: the {what} uses plain HTTP to {netloc}; allowed only for registries listed as insecure "
                "(TASK_API_INSECURE_REGISTRIES)",
                image=image,
            )

    def refused_address(self, host: str, port: int, addresses: Iterable[IPAddress], *, image: str) -> EgressDenied:
        """The error for a host none of whose addresses may be reached (pure)."""
        shown = ", ".join(sorted({str(a) for a in addresses})) or "none"
        return EgressDenied(
            f"{image}: {host}:{port} resolves to {shown}: private, loopback, link-local or reserved addresses are "
            "not allowed (TASK_API_EGRESS_ALLOW_PRIVATE lists the exceptions)",
            image=image,
        )
