"""uvicorn's HTTP protocol with a response's head and body sent in one write.

uvicorn writes a response's status line and headers when the app sends
``http.response.start``, and the body in a second write: two ``send`` system calls and,
on loopback, two wake-ups of the client per response. At a few thousand one-row
predictions a second those writes were a fifth of the server's time. This protocol hands
uvicorn a transport that holds a write ending in a blank line (a response head, or the
last chunk of a chunked body) until the next write or the end of the event loop's current
iteration, whichever comes first; everything else goes straight through, together with
what was held. Nothing waits longer than one loop iteration, and the bytes and their order
are exactly uvicorn's.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingHttpToolsProtocol", "CoalescingTransport"]

_HEAD_END = b"\r\n\r\n"


class CoalescingTransport:
    """A transport whose writes ending in a blank line wait for the next write (or tick).

    Every other attribute is the wrapped transport's.

    Args:
        transport: The connection's transport.
        loop: The event loop the connection runs on.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            data = held + bytes(data)
        if data[-4:] == _HEAD_END:
            self._held = bytes(data)
            if held is None:  # one flush per iteration is enough
                self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        """Send what is held (called at the end of the loop's iteration)."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wrapped = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(cast(asyncio.Transport, wrapped))
