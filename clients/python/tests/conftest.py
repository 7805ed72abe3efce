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


TINY_VLM = {"preset": "tiny", "alignmentSteps": 10, "instructionSteps": 40, "batchSize": 4, "maxVocab": 400,
            "seed": 1}
EXPLAIN_IMAGE = {"synthetic": {"seed": 5, "stage": "npdr", "sizePX": 96}}


@pytest.fixture(scope="session")
def vlm_store():
    """Whether the daemon serves explain; if it does, makes sure its store holds a VLM, training a tiny one
    through the `train` method first (after checking that explain without one is ModelNotFound).
    Returns {"served": bool, "train_phases": set of progress phases seen, or None if no training ran}."""
    from capillary_client import MethodNotFound, ModelNotFound
    with Client(os.environ["CAPILLARY_SOCKET"]) as c:
        if "explain" not in c.capabilities["methods"]:
            with pytest.raises(MethodNotFound):
                list(c.explain(EXPLAIN_IMAGE))
            return {"served": False, "train_phases": None}
        if any(m["kind"] == "vlm" for m in c.models()["models"]):
            return {"served": True, "train_phases": None}
        with pytest.raises(ModelNotFound):
            list(c.explain(EXPLAIN_IMAGE))
        phases = set()
        c.train(kind="vlm", generate={"count": 12, "seed": 2, "sizePX": 96}, config=TINY_VLM,
                on_progress=lambda v: phases.add(v.get("phase", v["kind"])))
        return {"served": True, "train_phases": phases}
