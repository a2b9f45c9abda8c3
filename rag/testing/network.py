"""A guard for test runs: any socket connection to a host other than loopback fails loudly."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlocked(RuntimeError):
    """Raised instead of reaching the network from a test."""


def is_loopback(host: Any) -> bool:
    if host is None or host == "":
        return True  # getaddrinfo(None, port): the local host
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").split("%", 1)[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_saved: dict[str, Callable[..., Any]] = {}


def block_network() -> None:
    """Make connect/connect_ex/getaddrinfo refuse non-loopback hosts (Unix sockets stay allowed)."""
    if _saved:
        return
    _saved.update(connect=socket.socket.connect, connect_ex=socket.socket.connect_ex,
                  getaddrinfo=socket.getaddrinfo)

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            raise NetworkBlocked(f"tests may not reach {address[0]}:{address[1]}; use a loopback fake "
                                 "(rag.testing.FakeGeminiServer) instead")

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address)
        return _saved["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address)
        return _saved["connect_ex"](self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise NetworkBlocked(f"tests may not resolve {host!r}; use 127.0.0.1")
        return _saved["getaddrinfo"](host, *args, **kwargs)

    setattr(socket.socket, "connect", connect)  # noqa: B010 - patching a C type's method on purpose
    setattr(socket.socket, "connect_ex", connect_ex)  # noqa: B010
    socket.getaddrinfo = getaddrinfo


def unblock_network() -> None:
    if not _saved:
        return
    setattr(socket.socket, "connect", _saved["connect"])  # noqa: B010
    setattr(socket.socket, "connect_ex", _saved["connect_ex"])  # noqa: B010
    socket.getaddrinfo = _saved["getaddrinfo"]
    _saved.clear()
