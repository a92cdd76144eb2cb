"""The tools' standard streams, for trio.

* :class:`Stdin` reads in a worker thread that a cancellation abandons (a
  read from a terminal would otherwise hold Ctrl-C until Enter);
* :func:`write_stdout` writes and flushes, off the trio thread;
* :func:`render` turns a message's frames into what ``recv`` (and a REQ
  ``send``) write: a line, its frames joined by the ``-d`` delimiter (a tab
  without one), or with ``--raw`` the frames as they are;
* :class:`Progress` is ``--progress``: a count on stderr, so that stdout
  stays clean for a pipeline.
"""

from __future__ import annotations

import os
import sys

import trio

#: How much stdin one read takes.
_CHUNK = 65536
#: How a line joins the frames of a multipart message without ``-d``.
DEFAULT_JOIN = b"\t"


class Stdin:
    """Standard input, read in a worker thread that a cancellation abandons."""

    def __init__(self) -> None:
        self._fd = sys.stdin.fileno()
        self._buffer = b""
        self._eof = False

    async def _fill(self) -> None:
        chunk = await trio.to_thread.run_sync(os.read, self._fd, _CHUNK, abandon_on_cancel=True)
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    async def readline(self) -> bytes | None:
        """The next line without its newline (``\\n`` or ``\\r\\n``); None at the end."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
                return line.removesuffix(b"\r")
            if self._eof:
                line, self._buffer = self._buffer, b""
                return line or None
            await self._fill()

    async def read_all(self) -> bytes:
        """Everything up to the end of input."""
        while not self._eof:
            await self._fill()
        data, self._buffer = self._buffer, b""
        return data


def _write_all(data: bytes) -> None:
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


async def write_stdout(data: bytes) -> None:
    """Write ``data`` to stdout and flush it, off the trio thread."""
    await trio.to_thread.run_sync(_write_all, data, abandon_on_cancel=True)


def render(frames: list[bytes], delimiter: bytes | None, *, raw: bool) -> bytes:
    """A message as written to stdout: a line of its frames joined by
    ``delimiter`` (:data:`DEFAULT_JOIN` if None), or ``raw``, the frames as they are."""
    if raw:
        return b"".join(frames)
    return (delimiter or DEFAULT_JOIN).join(frames) + b"\n"


class Progress:
    """``--progress``: a count on stderr, at most once a second, and at the end."""

    def __init__(self, prog: str, enabled: bool) -> None:
        self.count = 0
        self._prog = prog
        self._enabled = enabled
        self._shown_at = trio.current_time()

    def tick(self) -> None:
        """One more message."""
        self.count += 1
        if self._enabled and trio.current_time() - self._shown_at >= 1.0:
            self.show()

    def show(self) -> None:
        """Print the count now."""
        if self._enabled:
            print(f"{self._prog}: {self.count} messages", file=sys.stderr, flush=True)
            self._shown_at = trio.current_time()
