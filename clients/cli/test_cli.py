"""Tests of the Swift CLI client (`capillary explain/stage/graph --daemon/models/status/train/jobs/daemon`)
against a live capillaryd: run by scripts/test-clients.sh after the Python tests (whose session fixture
trained the tiny VLM `vlm` into the daemon's store).

Environment: CAPILLARY_BIN (the build folder with capillary and capillaryd), CAPILLARY_SOCKET (the daemon),
CAPILLARY_TEST_DIR (scratch).
"""
import json
import os
import signal
import subprocess
import time

import pytest

BIN = os.environ.get("CAPILLARY_BIN", "")
CLI = os.path.join(BIN, "capillary")
SOCKET = os.environ.get("CAPILLARY_SOCKET", "")
SCRATCH = os.environ.get("CAPILLARY_TEST_DIR", "/tmp")
IMAGE = "synthetic:5:npdr:96"


@pytest.fixture(scope="session", autouse=True)
def environment():
    if not (os.path.exists(CLI) and SOCKET):
        pytest.exit("set CAPILLARY_BIN (with capillary) and CAPILLARY_SOCKET; scripts/test-clients.sh does", returncode=2)


def cli(*args, check=True, timeout=300):
    """Runs capillary with --socket pointing at the test daemon unless args give one."""
    argv = [CLI, *args]
    if "--socket" not in args and args[0] != "daemon":
        argv += ["--socket", SOCKET]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_no_daemon_gives_exit_69_and_says_how_to_start_one():
    missing = os.path.join(SCRATCH, "nobody-here.sock")
    for args in (["status"], ["explain", IMAGE], ["models"], ["jobs"], ["graph", IMAGE, "--daemon"]):
        p = cli(*args, "--socket", missing, check=False)
        assert p.returncode == 69, (args, p.returncode, p.stderr)
        assert f"no capillaryd is running on {missing}" in p.stderr
        assert "capillary daemon start" in p.stderr
        assert p.stdout == ""


def test_status_text_and_json():
    p = cli("status")
    assert p.stdout.startswith("capillaryd ") and f"on {SOCKET}" in p.stdout
    assert "store:" in p.stdout
    (s,) = json_lines(cli("status", "--json").stdout)
    assert s["connections"] >= 1 and s["workers"] >= 1 and s["store"]["state"] in ("empty", "ready")


def test_explain_streams_deltas_that_make_the_result_text():
    # Sampling (seeded, so both runs below give the same text) keeps the tiny VLM from ending at once.
    sampling = ["--max-tokens", "30", "--temperature", "5", "--seed", "2"]
    lines = json_lines(cli("explain", IMAGE, *sampling, "--json").stdout)
    deltas, final = lines[:-1], lines[-1]
    assert final["kind"] == "result"
    assert len(deltas) >= 2 and all(d["kind"] == "delta" for d in deltas)
    assert "".join(d["text"] for d in deltas) == final["result"]["text"]
    assert final["result"]["tokens"] <= 30 and final["result"]["model"]["name"] == "vlm"
    # Text mode prints the same (greedy) text, token by token, then a newline; the statistics go to stderr.
    p = cli("explain", IMAGE, *sampling)
    assert p.stdout == final["result"]["text"] + "\n"
    assert "tokens, stop:" in p.stderr and "model vlm@" in p.stderr


def test_explain_prints_the_first_tokens_before_it_finishes():
    """Streaming, not buffering: the first delta line can be read while the process still runs (a long
    sampled generation), and Ctrl-C then cancels the request (exit 130)."""
    p = subprocess.Popen([CLI, "explain", IMAGE, "--max-tokens", "4096", "--temperature", "5", "--seed", "1",
                          "--json", "--socket", SOCKET], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(p.stdout.readline())
    assert first["kind"] == "delta"
    running = p.poll() is None
    p.send_signal(signal.SIGINT)
    # Not communicate(): with two pipes it reads the raw descriptors and would lose the lines readline()
    # already pulled into stdout's buffer (e.g. the result line of a generation that ended at once).
    p.wait(timeout=60)
    out, err = p.stdout.read(), p.stderr.read()
    if not running:
        pytest.skip("the generation ended before the first delta was read; cannot show cancellation")
    if p.returncode == 0:
        # The whole generation finished before the interrupt arrived: still streamed, nothing to cancel.
        assert json_lines(out)[-1]["kind"] == "result"
        return
    assert p.returncode == 130, (p.returncode, err)
    assert "cancelled" in err
    assert all(line["kind"] == "delta" for line in json_lines(out))


def test_train_shows_progress_then_stage_and_models_use_the_new_model():
    p = cli("train", "--kind", "gnn", "--generate", "12", "--seed", "1", "--size-px", "64", "--epochs", "2",
            "--name", "cli-gnn")
    assert "started (Ctrl-C cancels it)" in p.stderr
    bars = [l for l in p.stderr.splitlines() if l.startswith("[")]
    assert len(bars) >= 3 and any("%" in b and "#" in b for b in bars), p.stderr
    assert p.stdout.startswith("trained cli-gnn@1"), p.stdout
    (r,) = json_lines(cli("stage", IMAGE, "--name", "cli-gnn", "--json").stdout)
    assert r["model"]["name"] == "cli-gnn" and r["stage"] in ("healthy", "npdr", "pdr")
    assert abs(sum(r["probabilities"].values()) - 1) < 1e-4
    text = cli("stage", IMAGE, "--name", "cli-gnn").stdout
    assert text.startswith(f"{IMAGE}: {r['stage'].upper()}") and "model cli-gnn@1" in text
    (m,) = json_lines(cli("models", "--json").stdout)
    assert any(row["name"] == "cli-gnn" and row["version"] == "1" for row in m["models"])
    assert "cli-gnn" in cli("models").stdout
    (loaded,) = json_lines(cli("models", "--load", "cli-gnn", "--keep-alive", "60", "--json").stdout)
    assert loaded["name"] == "cli-gnn" and loaded["loaded"] is True and loaded["keepAliveSeconds"] == 60
    assert cli("models", "--unload", "cli-gnn").stdout.strip() == "cli-gnn@1 unloaded"
    assert cli("models", "--unload", "cli-gnn").stdout.strip() == "cli-gnn was not loaded"


def test_train_json_lines_are_the_progress_values():
    lines = json_lines(cli("train", "--kind", "gnn", "--generate", "12", "--seed", "1", "--size-px", "64",
                           "--epochs", "1", "--name", "cli-gnn-json", "--json").stdout)
    assert lines[0]["kind"] == "begin" and lines[-1]["kind"] == "end"
    assert lines[-1]["state"] == "succeeded" and lines[-1]["result"]["name"] == "cli-gnn-json"
    assert any(l["kind"] == "report" for l in lines)


def test_ctrl_c_cancels_the_training_job():
    p = subprocess.Popen([CLI, "train", "--kind", "gnn", "--generate", "400", "--seed", "4", "--name", "cli-cancel",
                          "--socket", SOCKET], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = ""
    while "started" not in started:  # the begin line may come first
        started = p.stderr.readline()
        assert started, "capillary train ended before saying the job started"
    job = started.split()[0]
    p.stderr.readline()  # the next progress line: the job is running
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    assert f"cancelling {job}" in err and f"{job} cancelled" in err
    (jobs,) = json_lines(cli("jobs", "--json").stdout)
    row = next(j for j in jobs["jobs"] if j["id"] == job)
    assert row["state"] == "cancelled"
    assert f"{job}" in cli("jobs").stdout
    (m,) = json_lines(cli("models", "--json").stdout)
    assert not any(r["name"] == "cli-cancel" for r in m["models"]), "a cancelled job stores nothing"


def test_daemon_errors_exit_1_with_the_daemon_message():
    p = cli("jobs", "--cancel", "job-999", check=False)
    assert p.returncode == 1 and "daemon error -32602" in p.stderr and "job-999" in p.stderr
    p = cli("stage", IMAGE, "--name", "nosuch", check=False)
    assert p.returncode == 1 and "daemon error -32020 (Model not found)" in p.stderr


def test_graph_through_the_daemon_writes_the_graph():
    out = os.path.join(SCRATCH, "cli-graph.json")
    (r,) = json_lines(cli("graph", IMAGE, "--daemon", "--out", out, "--json").stdout)
    assert "graph" not in r and r["summary"]["format"] == "capillary-octa-graph/1"
    with open(out) as f:
        g = json.load(f)
    assert g["format"] == "capillary-octa-graph/1"
    text = cli("graph", IMAGE, "--daemon").stdout
    assert text.startswith(f"{IMAGE}: {r['summary']['vesselNodes']} vessel")


def test_daemon_start_and_stop(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-daemon", numbered=True)
    sock = str(d / "d.sock")
    store = str(d / "store")
    # Traced like the main test daemon: scripts/test-clients.sh validates this file against protocol/schema.
    p = cli("daemon", "start", "--socket", sock, "--store", store, "--workers", "1",
            "--trace", os.path.join(SCRATCH, "..", "trace-cli-daemon.jsonl"))
    try:
        assert "is running on" in p.stdout and os.path.exists(sock)
        assert "already running" in cli("daemon", "start", "--socket", sock).stdout
        (s,) = json_lines(cli("status", "--json", "--socket", sock).stdout)
        assert s["store"]["path"] == store and s["store"]["state"] == "empty"
    finally:
        stopped = cli("daemon", "stop", "--socket", sock, check=False)
    assert "stopped" in stopped.stdout, stopped.stderr
    assert not os.path.exists(sock)
    assert cli("status", "--socket", sock, check=False).returncode == 69
    assert cli("daemon", "stop", "--socket", sock, check=False).returncode == 69
