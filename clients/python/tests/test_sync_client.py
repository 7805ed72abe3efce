"""The blocking client against the live capillaryd started by scripts/test-clients.sh."""

import base64
import json
import os
import socket
import threading

import pytest

from conftest import EXPLAIN_IMAGE
from capillary_client import (Client, DaemonNotRunning, InvalidParams, JobCancelled, JobFailed, MethodNotFound,
                              ModelNotFound, RequestCancelled, RPCError, ServerBusy, default_socket_path,
                              image_param)

SYNTH_128 = {"synthetic": {"seed": 11, "stage": "npdr", "sizePX": 128}}


def test_default_socket_path_follows_the_daemon(monkeypatch):
    monkeypatch.delenv("CAPILLARY_SOCKET", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert default_socket_path() == "/run/user/1234/capillary.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_socket_path() == f"/tmp/capillary-{os.getuid()}/capillary.sock"
    monkeypatch.setenv("CAPILLARY_SOCKET", "/x/y.sock")
    assert default_socket_path() == "/x/y.sock"


def test_image_param_shapes(tmp_path):
    assert image_param("eye.png") == {"path": os.path.join(os.getcwd(), "eye.png")}
    assert image_param(b"\x89PNG") == {"png_base64": base64.b64encode(b"\x89PNG").decode()}
    assert image_param(SYNTH_128) is SYNTH_128
    with pytest.raises(TypeError):
        image_param(3)


def test_every_documented_code_has_its_exception_type():
    import capillary_client as cc
    table = {-32700: cc.ParseError, -32600: cc.InvalidRequest, -32601: MethodNotFound, -32602: InvalidParams,
             -32603: cc.InternalError, -32002: cc.ServerNotInitialized, -32800: RequestCancelled,
             -32010: ServerBusy, -32011: cc.DuplicateRequestId, -32020: ModelNotFound, -32021: cc.ModelLoadFailed}
    for code, cls in table.items():
        e = cc.error_from_response({"code": code, "message": "m", "data": {"reason": "r", "retryAfterMs": 5}}, "x")
        assert type(e) is cls and e.code == code and isinstance(e, RPCError) and str(e).startswith("x: m (")
    other = cc.error_from_response({"code": -32099, "message": "custom"})
    assert type(other) is RPCError and other.data is None
    assert cc.error_from_response({"code": -32800, "message": "c", "data": {"reason": "shutdown"}}).reason == "shutdown"


def test_no_daemon_is_a_typed_error(scratch):
    with pytest.raises(DaemonNotRunning) as missing:
        Client(os.path.join(scratch, "absent.sock"))
    assert "absent.sock" in str(missing.value)
    stale = os.path.join(scratch, "stale.sock")
    if os.path.exists(stale):
        os.unlink(stale)
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)       # bound but never listening: connect is refused, as for a daemon that died
    try:
        with pytest.raises(DaemonNotRunning) as refused:
            Client(stale)
        assert "refused" in str(refused.value)
    finally:
        s.close()


def test_initialize_is_automatic(client):
    assert client.initialize_result["protocolVersion"] == "1.0"
    assert client.initialize_result["serverInfo"]["name"] == "capillaryd"
    methods = client.capabilities["methods"]
    for m in ("ping", "status", "graph", "stage", "train", "dataset/generate", "jobs/list", "models/list"):
        assert m in methods
    assert client.ping() is None
    status = client.status()
    assert status["connections"] >= 1 and status["workers"] >= 1
    assert status["store"]["path"] == os.environ["CAPILLARY_TEST_STORE"]


def test_without_initialize_the_daemon_refuses(socket_path):
    with Client(socket_path, initialize=False) as raw:
        with pytest.raises(RPCError) as e:
            raw.ping()
        assert e.value.code == -32002


def test_error_codes_map_to_exception_types(client):
    with pytest.raises(MethodNotFound) as e:
        client.call("no/such/method", {})
    assert e.value.code == -32601 and "no/such/method" in str(e.value.data)
    with pytest.raises(InvalidParams) as e:
        client.graph("/definitely/not/here.png")
    assert e.value.code == -32602 and "image" in str(e.value.data)
    with pytest.raises(InvalidParams):
        client.call("graph", {"image": {"synthetic": {"seed": 1, "stage": "nonsense"}}})


def test_graph_of_a_synthetic_eye(client):
    r = client.graph(SYNTH_128)
    assert r["image"]["widthPX"] == 128 and r["image"]["source"] == "synthetic"
    assert r["summary"]["format"] == "capillary-octa-graph/1"
    assert r["summary"]["vesselNodes"] > 0 and r["summary"]["edges"] > 0
    assert "graph" not in r
    full = client.graph(SYNTH_128, include_graph=True)
    assert full["summary"] == r["summary"]            # same seed, same graph
    assert isinstance(full["graph"], dict)


def test_dataset_job_progress_then_graph_by_path_and_bytes(client, scratch):
    out = os.path.join(scratch, "cohort")
    seen = []
    result = client.generate_dataset(6, 21, out, size_px=64, on_progress=seen.append)
    kinds = [v["kind"] for v in seen]
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("report") >= 1
    assert seen[-1]["state"] == "succeeded"
    done = [v["done"] for v in seen if v["kind"] == "report"]
    assert done == sorted(done) and done[-1] == 6
    assert result["count"] == 6
    with open(os.path.join(out, "manifest.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    assert len(rows) == 6
    image = os.path.join(out, rows[0]["path"])
    by_path = client.graph(image)
    with open(image, "rb") as f:
        by_bytes = client.graph(f.read())
    assert by_path["summary"] == by_bytes["summary"]
    assert by_bytes["image"]["widthPX"] == 64
    with pytest.raises(InvalidParams):         # the folder is no longer empty
        client.generate_dataset(6, 21, out, size_px=64)
    assert any(j["id"] == seen[0]["jobId"] and j["state"] == "succeeded" for j in client.jobs()["jobs"])


def test_dataset_job_cancel_and_busy(client, scratch):
    out = os.path.join(scratch, "big")
    job = client.generate_dataset(400, 5, out, size_px=64, wait=False)
    assert job.id.startswith("job-")
    with pytest.raises(ServerBusy) as busy:      # --max-jobs 1: a second job is refused while one runs
        client.generate_dataset(6, 1, os.path.join(scratch, "second"), size_px=64)
    assert busy.value.retry_after_ms == 1000
    assert client.cancel_job(job.id)["id"] == job.id
    with pytest.raises(JobCancelled) as cancelled:
        job.wait(timeout=60)
    assert cancelled.value.end["state"] == "cancelled"
    assert not os.path.exists(out)               # a cancelled dataset job leaves nothing behind


def test_train_progress_then_stage_and_models(client, scratch):
    had_model = any(m["name"] == "graphnet" for m in client.models()["models"])
    if not had_model:
        with pytest.raises(ModelNotFound) as e:
            client.stage(SYNTH_128)
        assert "graphnet" in str(e.value.data)       # names the missing model (and how to fill an empty store)
    phases = []
    result = client.train(generate={"count": 12, "seed": 3, "sizePX": 64},
                          config={"epochs": 2, "hidden": 8, "layers": 1, "batchSize": 4},
                          on_progress=lambda v: phases.append(v.get("phase", v["kind"])))
    assert phases[0] == "begin" and phases[-1] == "end"
    assert {"generate", "graphs", "train"} <= set(phases)
    assert result["name"] == "graphnet" and result["epochsRun"] >= 1
    staged = client.stage(SYNTH_128)
    assert staged["stage"] in ("healthy", "npdr", "pdr")
    assert abs(sum(staged["probabilities"].values()) - 1.0) < 1e-4
    assert staged["model"]["version"] == result["version"]
    versions = [m["version"] for m in client.models()["models"] if m["name"] == "graphnet"]
    assert result["version"] in versions
    # Integrated gradients of that decision: completeness from the JSON, a PNG heatmap written by the daemon.
    heat = os.path.abspath(os.path.join(scratch, "heat.png"))
    attr = client.attribute(SYNTH_128, steps=32, top_k=3, heatmap=heat)
    assert attr["stage"] == staged["stage"] and attr["target"]["name"] == staged["stage"]
    total = sum(sum(v.values()) for v in attr["featureTotals"].values()) + sum(e["sum"] for e in attr["edges"].values())
    gap = attr["targetLogit"] - attr["baselineLogit"]
    assert abs(total - gap - attr["convergenceDelta"]) < 1e-3 * max(1.0, abs(gap))
    assert len(attr["top"]) == 3 and open(heat, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidParams):
        client.attribute(SYNTH_128, target="severe")


def test_failed_job_raises_job_failed(client, scratch):
    out = os.path.join(scratch, "six")
    client.generate_dataset(6, 2, out, size_px=64)
    with pytest.raises(JobFailed) as e:          # six eyes give no train/val split
        client.train(cohort=out, config={"epochs": 1})
    assert "split" in str(e.value)


def test_cancel_request_in_flight(client):
    s = client.stream("graph", {"image": {"synthetic": {"seed": 5, "stage": "pdr", "sizePX": 768}}})
    client.cancel(s.id)
    with pytest.raises(RequestCancelled) as e:
        list(s)
    assert e.value.reason == "cancelRequest"
    assert client.ping() is None                 # the connection stays usable


def test_timeout_cancels_and_connection_survives(client):
    with pytest.raises(TimeoutError):
        client.call("graph", {"image": {"synthetic": {"seed": 6, "stage": "pdr", "sizePX": 768}}}, timeout=0.05)
    assert client.call("ping") is None


def test_concurrent_calls_from_threads(client):
    errors, results = [], []

    def worker(i):
        try:
            results.append(client.graph({"synthetic": {"seed": i, "stage": "healthy", "sizePX": 64}})["summary"])
            client.ping()
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 6


def test_explain_streams_from_a_trained_vlm(client, vlm_store):
    if not vlm_store["served"]:
        pytest.skip("this capillaryd does not serve explain (the fixture checked MethodNotFound)")
    if vlm_store["train_phases"] is not None:
        assert "train-vlm" in vlm_store["train_phases"]
    stream = client.explain(EXPLAIN_IMAGE, maxTokens=60)
    deltas = list(stream)
    assert deltas, "no delta was streamed"
    assert "".join(deltas) == stream.result["text"]
    assert stream.result["model"]["kind"] == "vlm"
    assert 0 < stream.result["tokens"] <= 60
    again = client.explain(EXPLAIN_IMAGE, maxTokens=60)
    assert "".join(again) == stream.result["text"]          # greedy (temperature 0): the same text
    with pytest.raises(InvalidParams):
        list(client.explain(EXPLAIN_IMAGE, temperature=-1))
    # Leaving the loop early ends the request (cancelled, or finished if generation beat the cancel);
    # either way the stream is closed and the connection stays usable.
    with client.explain(EXPLAIN_IMAGE, maxTokens=200) as early:
        for _ in early:
            break
    assert early.done
    assert client.ping() is None
