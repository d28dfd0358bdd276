"""A response's head waits for its body, so both leave in one write; nothing waits longer."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from closedloop.serving._transport import CoalescingTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return f"info:{name}"


def _wrap(loop: asyncio.AbstractEventLoop) -> tuple[_Recorder, CoalescingTransport]:
    inner = _Recorder()
    return inner, CoalescingTransport(inner, loop)  # type: ignore[arg-type]


def test_head_and_body_leave_in_one_write() -> None:
    async def run() -> list[bytes]:
        inner, t = _wrap(asyncio.get_running_loop())
        t.write(HEAD)
        assert inner.writes == []  # held for the body
        assert t.get_write_buffer_size() == len(HEAD)
        t.write(b"{}")
        await asyncio.sleep(0)
        return inner.writes

    assert asyncio.run(run()) == [HEAD + b"{}"]


def test_a_lone_head_leaves_at_the_end_of_the_iteration() -> None:
    async def run() -> list[bytes]:
        inner, t = _wrap(asyncio.get_running_loop())
        t.write(HEAD)  # e.g. a 204, or the final chunk of a chunked body
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return inner.writes

    assert asyncio.run(run()) == [HEAD]


def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    async def run() -> tuple[list[bytes], bool, list[bytes], bool]:
        loop = asyncio.get_running_loop()
        inner, t = _wrap(loop)
        t.write(HEAD)
        t.close()
        other, u = _wrap(loop)
        u.write(HEAD)
        u.abort()
        await asyncio.sleep(0)
        return inner.writes, inner.closed, other.writes, other.aborted

    assert asyncio.run(run()) == ([HEAD], True, [], True)


def test_other_attributes_are_the_transports() -> None:
    async def run() -> Any:
        _, t = _wrap(asyncio.get_running_loop())
        return t.get_extra_info("peername")

    assert asyncio.run(run()) == "info:peername"


def test_a_real_server_answers_whole_responses_on_keep_alive(served: Any) -> None:
    from closedloop.serving import BackgroundServer

    with (
        BackgroundServer(served.ws, "m@champion") as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for _ in range(20):  # one connection, many requests: no response split or merged
            r = client.post(
                "/v1/models/m/predict", json={"records": [{"age": 30, "hours": 40, "sex": "F"}]}
            )
            assert r.status_code == 200
            assert r.json()["predictions"]
        assert client.get("/healthz").status_code == 200
