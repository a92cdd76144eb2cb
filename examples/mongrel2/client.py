"""A small HTTP/1.1 client on trio streams, enough to talk to Mongrel2.

It keeps one TCP connection open for several requests (keep-alive, as
HTTP/1.1 does by default), reads bodies sized by ``Content-Length`` or sent
in chunks, and can read a chunked body one chunk at a time, so a caller can
hang up in the middle of a stream.  Every wait is the caller's to bound
(``trio.fail_after``); a connection that closes early or a response that is
not HTTP raises :class:`HttpError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio


class HttpError(Exception):
    """The server closed the connection early or answered something that is not HTTP."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class HttpConnection:
    """One client connection; use ``async with await HttpConnection.open(host, port)``."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = b""

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        return cls(await trio.open_tcp_stream(host, port))

    async def __aenter__(self) -> HttpConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Hang up (at once, whatever is in flight)."""
        await self.stream.aclose()

    async def send_request(self, method: str, target: str, body: bytes = b"") -> None:
        head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Length: {len(body)}\r\n"
        await self.stream.send_all(head.encode() + b"\r\n" + body)

    async def request(self, method: str, target: str, body: bytes = b"") -> Response:
        """Send a request and read the whole response; the connection stays open."""
        await self.send_request(method, target, body)
        status, headers = await self.read_head()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while chunk := await self.read_chunk():
                chunks.append(chunk)
            return Response(status, headers, b"".join(chunks))
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            raise HttpError(f"response has no usable Content-Length: {headers}")
        return Response(status, headers, await self._read_exactly(int(length)))

    async def read_head(self) -> tuple[int, dict[str, str]]:
        """The status code and headers of the next response."""
        status_line, *lines = (await self._read_until(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise HttpError(f"not an HTTP/1.x status line: {status_line!r}")
        headers = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise HttpError(f"not a header line: {line!r}")
            headers[name.strip().lower()] = value.strip()
        return int(code), headers

    async def read_chunk(self) -> bytes:
        """The next chunk of a chunked body; ``b""`` after the last one."""
        size_line = (await self._read_until(b"\r\n")).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HttpError(f"not a chunk size: {size_line!r}") from None
        data = await self._read_exactly(size)
        if await self._read_exactly(2) != b"\r\n":
            raise HttpError("chunk does not end with CRLF")
        return data

    async def _fill(self) -> None:
        data = await self.stream.receive_some()
        if not data:
            raise HttpError(f"connection closed mid-response ({len(self._buffer)} bytes unread)")
        self._buffer += data

    async def _read_until(self, separator: bytes) -> bytes:
        while separator not in self._buffer:
            await self._fill()
        line, _, self._buffer = self._buffer.partition(separator)
        return line

    async def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            await self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


async def wait_until_served(port: int, *, target: str = "/hello", attempt: float = 1.0) -> Response:
    """GET ``target`` until an answer comes, trying afresh after ``attempt`` seconds.

    A handler that has just connected may miss its first requests' replies
    (a PUB socket drops what it sends before its SUB peer is connected), so
    a program that starts Mongrel2 and a handler waits for one full round
    trip before it says it is ready.  Bound it with ``trio.fail_after``.
    """
    while True:
        with trio.move_on_after(attempt):
            async with await HttpConnection.open("127.0.0.1", port) as connection:
                return await connection.request("GET", target)
        await trio.sleep(0.05)
