"""The test run itself is hermetic: no key or LECTURELENS_* leaks in, each test has its own directory,
and nothing but loopback is reachable."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from rag.settings import load_settings
from rag.testing.network import NetworkBlocked, is_loopback

ROOT = Path(__file__).resolve().parents[1]


def test_no_key_or_lecturelens_variable_reaches_a_test():
    leaked = [k for k in os.environ if k in ("GEMINI_API_KEY", "GOOGLE_API_KEY") or k.startswith("LECTURELENS_")]
    assert leaked == []
    assert load_settings().resolved_provider() == "local"


def test_each_test_runs_in_its_own_empty_directory(hermetic):
    assert Path.cwd() == hermetic and list(hermetic.iterdir()) == []
    assert Path.cwd() != ROOT and not Path("config.yaml").exists()


@pytest.mark.parametrize("host", ["8.8.8.8", "2001:4860:4860::8888", "example.com"])
def test_connecting_beyond_loopback_fails(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked, match="may not reach"):
        s.connect((host, 443))
    with pytest.raises(NetworkBlocked):
        socket.create_connection((host, 443), timeout=1)


def test_resolving_a_public_name_fails_but_localhost_resolves():
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("generativelanguage.example", 443)
    assert socket.getaddrinfo("localhost", 80)


def test_loopback_still_works():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    t = threading.Thread(target=lambda: srv.accept()[0].sendall(b"ok"))
    t.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(2) == b"ok"
    t.join(5)
    srv.close()


def test_loopback_names():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost", None, b"127.0.0.1"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "0.0.0.1", "example.com", "192.168.1.1"))
