"""Fixtures: the live daemon (CAPILLARY_SOCKET, started by scripts/test-clients.sh), a scratch folder
(CAPILLARY_TEST_DIR) and the scripted streaming peer (clients/testing/stream_peer.py)."""

import os
import subprocess
import sys
import time

import pytest

from capillary_client import Client

PEER = os.path.join(os.path.dirname(__file__), "..", "..", "testing", "stream_peer.py")


def pytest_configure(config):
    if not all(os.environ.get(k) for k in ("CAPILLARY_SOCKET", "CAPILLARY_TEST_DIR", "CAPILLARY_TEST_STORE")):
        pytest.exit("set CAPILLARY_SOCKET (a running capillaryd), CAPILLARY_TEST_STORE (its --store) and "
                    "CAPILLARY_TEST_DIR (a scratch folder); "
                    "scripts/test-clients.sh does both", returncode=2)


@pytest.fixture
def socket_path():
    return os.environ["CAPILLARY_SOCKET"]


@pytest.fixture
def scratch(request):
    path = os.path.join(os.environ["CAPILLARY_TEST_DIR"], "py-" + request.node.name)
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture
def client(socket_path):
    with Client(socket_path) as c:
        yield c


@pytest.fixture(scope="session")
def peer_path():
    path = os.path.join(os.environ["CAPILLARY_TEST_DIR"], "py-peer.sock")
    proc = subprocess.Popen([sys.executable, PEER, path], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    yield path
    proc.terminate()
    proc.wait(timeout=5)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()
