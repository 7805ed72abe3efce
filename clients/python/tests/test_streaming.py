"""Partial-result streaming and early-close cancellation, pinned against clients/testing/stream_peer.py
(a scripted peer with the daemon's framing and cancellation rules: capillaryd has no streaming method yet)."""

import pytest

from capillary_client import Client, MethodNotFound, RequestCancelled

from conftest import wait_until


def test_explain_streams_deltas_in_order_then_the_result(peer_path):
    with Client(peer_path) as c:
        stream = c.explain({"synthetic": {"seed": 1}}, deltas=8, delayMS=5)
        deltas = list(stream)
        assert deltas == [f"w{i} " for i in range(8)]
        assert stream.result == {"text": "".join(deltas), "deltas": 8}


def test_deltas_arrive_before_the_request_finishes(peer_path):
    with Client(peer_path) as c:
        stream = c.explain("/abs/eye.png", deltas=50, delayMS=20)
        assert next(stream) == "w0 "
        assert not stream.done          # the first token came while the peer was still generating
        stream.close()


def test_breaking_out_of_the_loop_cancels(peer_path):
    with Client(peer_path) as c:
        got = []
        for delta in c.explain("/abs/eye.png", deltas=200, delayMS=10):
            got.append(delta)
            if len(got) == 3:
                break
        stats = wait_until(lambda: c.call("peer/stats")["cancelled"])
        assert stats, "the peer saw no $/cancelRequest after the loop was left"
        assert got == ["w0 ", "w1 ", "w2 "]


def test_close_cancels_and_with_block_cancels(peer_path):
    with Client(peer_path) as c:
        before = len(c.call("peer/stats")["cancelled"])
        s = c.explain("/abs/eye.png", deltas=200, delayMS=10)
        next(s)
        s.close()
        assert s.done
        with c.explain("/abs/eye.png", deltas=200, delayMS=10) as s2:
            next(s2)
        stats = wait_until(lambda: len(c.call("peer/stats")["cancelled"]) >= before + 2 and c.call("peer/stats"))
        assert s.id in stats["cancelled"] and s2.id in stats["cancelled"]


def test_generic_stream_yields_raw_values_and_errors_are_typed(peer_path):
    with Client(peer_path) as c:
        values = list(c.stream("explain", {"deltas": 2, "delayMS": 1}))
        assert values == [{"kind": "delta", "text": "w0 "}, {"kind": "delta", "text": "w1 "}]
        with pytest.raises(MethodNotFound):
            list(c.stream("nope"))
        s = c.stream("explain", {"deltas": 100, "delayMS": 10})
        next(s)
        c.cancel(s.id)
        with pytest.raises(RequestCancelled):
            list(s)
