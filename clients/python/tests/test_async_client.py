"""The asyncio client against the live capillaryd and the scripted streaming peer."""

import asyncio
import os

import pytest

from conftest import EXPLAIN_IMAGE

from capillary_client import AsyncClient, DaemonNotRunning, JobCancelled, MethodNotFound, InvalidParams


def run(coro):
    return asyncio.run(coro)


def test_async_basics(socket_path):
    async def main():
        async with await AsyncClient.connect(socket_path) as c:
            assert c.initialize_result["serverInfo"]["name"] == "capillaryd"
            assert await c.ping() is None
            status, graph = await asyncio.gather(
                c.status(), c.graph({"synthetic": {"seed": 4, "stage": "pdr", "sizePX": 96}}))
            assert status["workers"] >= 1
            assert graph["image"]["widthPX"] == 96 and graph["summary"]["vesselNodes"] > 0
            with pytest.raises(MethodNotFound):
                await c.call("no/such")
            with pytest.raises(InvalidParams):
                await c.graph("/no/such.png")
    run(main())


def test_async_no_daemon(scratch):
    with pytest.raises(DaemonNotRunning):
        run(AsyncClient.connect(os.path.join(scratch, "absent.sock")))


def test_async_task_cancel_sends_cancel_request(socket_path):
    async def main():
        async with await AsyncClient.connect(socket_path) as c:
            task = asyncio.create_task(c.graph({"synthetic": {"seed": 9, "stage": "pdr", "sizePX": 768}}))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await c.ping() is None
            # the daemon counts the cancelled request as answered: requestsAnswered grows and nothing is left in flight
            for _ in range(200):
                if (await c.status())["inflightRequests"] == 1:   # only this status call
                    break
                await asyncio.sleep(0.05)
            assert (await c.status())["inflightRequests"] == 1
    run(main())


def test_async_job_progress_and_cancel(socket_path, scratch):
    async def main():
        async with await AsyncClient.connect(socket_path) as c:
            seen = []

            async def on_progress(v):
                seen.append(v["kind"])

            result = await c.generate_dataset(6, 8, os.path.join(scratch, "ok"), size_px=64, on_progress=on_progress)
            assert result["count"] == 6 and seen[0] == "begin" and seen[-1] == "end"
            job = await c.generate_dataset(400, 8, os.path.join(scratch, "big"), size_px=64, wait=False)
            await job.cancel()
            with pytest.raises(JobCancelled):
                await job.wait()
    run(main())


def test_async_explain_streams_and_aclose_cancels(peer_path):
    async def main():
        async with await AsyncClient.connect(peer_path) as c:
            stream = c.explain("/abs/eye.png", deltas=5, delayMS=2)
            assert [d async for d in stream] == [f"w{i} " for i in range(5)]
            assert stream.result["deltas"] == 5
            s = c.explain("/abs/eye.png", deltas=300, delayMS=10)
            async for first in s:
                assert first == "w0 "
                break
            await s.aclose()
            for _ in range(100):
                if s.id in (await c.call("peer/stats"))["cancelled"]:
                    break
                await asyncio.sleep(0.05)
            assert s.id in (await c.call("peer/stats"))["cancelled"]
    run(main())


def test_async_explain_against_the_daemon(socket_path, vlm_store):
    if not vlm_store["served"]:
        pytest.skip("this capillaryd does not serve explain (the fixture checked MethodNotFound)")

    async def main():
        async with await AsyncClient.connect(socket_path) as c:
            stream = c.explain(EXPLAIN_IMAGE, maxTokens=40)
            deltas = [d async for d in stream]
            assert deltas and "".join(deltas) == stream.result["text"]
            assert stream.result["model"]["kind"] == "vlm"
    run(main())
