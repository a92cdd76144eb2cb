"""A minimal Jupyter kernel on trio: Python code, run by any Jupyter front end.

A front end (``jupyter_client``'s ``KernelManager``, so Jupyter's consoles
and notebooks) writes a connection file and starts the kernel as::

    python -m examples.jupyter.kernel -f {connection_file}

The kernel binds its five sockets on the file's ports and runs one task
per channel in one nursery, all visible in :func:`run_kernel`:

* heartbeat (ROUTER): echoes every message back, so a front end can tell
  the kernel is alive, even while code runs;
* shell (ROUTER): ``kernel_info_request``, ``execute_request``,
  ``is_complete_request``;
* control (ROUTER): ``shutdown_request`` (also ``kernel_info_request``,
  and ``interrupt_request``, which it declines);
* iopub (PUB): what the kernel publishes: ``status`` busy/idle around each
  request, ``execute_input``, ``stream``, ``execute_result``, ``error``;
* stdin (ROUTER): bound, as front ends expect, but unused: ``input()`` is
  not supported.

Every message is checked with the connection file's key; one whose
signature does not match is logged and dropped, unanswered.  Code runs in
a worker thread (``trio.to_thread.run_sync``), so the heartbeat and the
control channel answer while it runs.  A ``shutdown_request`` ends the
kernel with status 0 once its reply has gone out; SIGTERM and SIGINT end
it too, with status 143 and 130.

``python -m examples.jupyter.kernel --install DIR`` writes its kernelspec
into ``DIR/kernels/trio_zmq_example``: with ``JUPYTER_PATH=DIR`` Jupyter
finds it (``jupyter run --kernel trio_zmq_example script.py``).
"""

from __future__ import annotations

import argparse
import ast
import codeop
import contextlib
import io
import json
import linecache
import logging
import platform
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
import zmq

import trio_zmq

from .protocol import PROTOCOL_VERSION, ConnectionInfo, JSONDict, Message, ProtocolError, Session

KERNEL_NAME = "trio_zmq_example"
#: How long (ms) closing sockets may wait to deliver what is queued, such as
#: the shutdown reply and the last ``idle``.
LINGER_MS = 1000
#: The repository root, which must be on ``sys.path`` for ``-m examples...``.
ROOT = Path(__file__).resolve().parents[2]

log = logging.getLogger("examples.jupyter.kernel")

Handler = Callable[[Message], Awaitable[JSONDict]]


@dataclass
class Outcome:
    """What running one cell did."""

    stdout: str
    stderr: str
    #: The last expression's value, if the cell ends in an expression.
    result: Any = None
    error: JSONDict | None = None  # {"ename", "evalue", "traceback"}


def run_cell(code: str, namespace: dict[str, Any], filename: str = "<cell>") -> Outcome:
    """Run ``code`` in ``namespace``, capturing its output, its last
    expression's value and its exception (in a worker thread).

    The code is registered in :mod:`linecache` under ``filename``, so that
    tracebacks show the cell's lines.
    """
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    stdout, stderr = io.StringIO(), io.StringIO()
    result = error = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            module = ast.parse(code, filename)
            last = module.body[-1] if module.body else None
            if isinstance(last, ast.Expr):  # evaluated apart, for its value
                module.body.pop()
            exec(compile(module, filename, "exec"), namespace)
            if isinstance(last, ast.Expr):
                expression = ast.Expression(last.value)
                result = eval(compile(expression, filename, "eval"), namespace)
        except Exception as exc:
            # Skip this function's own frame: the traceback starts in the cell.
            tb = exc.__traceback__.tb_next if exc.__traceback__ else None
            error = {
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": traceback.format_exception(type(exc), exc, tb),
            }
    return Outcome(stdout.getvalue(), stderr.getvalue(), result, error)


class Kernel:
    """The kernel's state and its request handlers; :func:`run_kernel` runs it."""

    def __init__(self, session: Session, iopub: trio_zmq.Socket) -> None:
        self.session = session
        self.iopub = iopub
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        self.execution_count = 0
        #: Set by a shutdown request, once its reply is sent.
        self.shut_down = trio.Event()
        self.shell_handlers: dict[str, Handler] = {
            "kernel_info_request": self.kernel_info,
            "execute_request": self.execute,
            "is_complete_request": self.is_complete,
        }
        self.control_handlers: dict[str, Handler] = {
            "kernel_info_request": self.kernel_info,
            "shutdown_request": self.shutdown,
            "interrupt_request": self.interrupt,
        }

    async def publish(self, msg_type: str, content: JSONDict, parent: Message | None) -> None:
        """Publish a message on iopub, its type as the topic."""
        message = self.session.message(msg_type, content, parent=parent)
        topic = f"kernel.{self.session.session_id}.{msg_type}".encode()
        await self.iopub.send_multipart(self.session.serialize(message, [topic]))

    async def serve(
        self, channel: str, sock: trio_zmq.Socket, handlers: dict[str, Handler]
    ) -> None:
        """Answer the requests on one channel (shell or control), one at a time."""
        while True:
            frames = await sock.recv_multipart()
            try:
                request = self.session.deserialize(frames)
            except ProtocolError as exc:
                log.warning("%s: dropped a message: %s", channel, exc)
                continue
            handler = handlers.get(request.msg_type)
            if handler is None:
                log.warning("%s: ignored a message of unknown type %r", channel, request.msg_type)
                continue
            await self.publish("status", {"execution_state": "busy"}, request)
            content = await handler(request)
            reply_type = request.msg_type.replace("_request", "_reply")
            reply = self.session.message(reply_type, content, parent=request)
            await sock.send_multipart(self.session.serialize(reply, request.identities))
            await self.publish("status", {"execution_state": "idle"}, request)
            if reply_type == "shutdown_reply":
                self.shut_down.set()

    async def kernel_info(self, request: Message) -> JSONDict:
        return {
            "status": "ok",
            "protocol_version": PROTOCOL_VERSION,
            "implementation": KERNEL_NAME,
            "implementation_version": trio_zmq.__version__,
            "language_info": {
                "name": "python",
                "version": platform.python_version(),
                "mimetype": "text/x-python",
                "file_extension": ".py",
            },
            "banner": f"trio_zmq example kernel, Python {platform.python_version()}",
            "help_links": [],
        }

    async def execute(self, request: Message) -> JSONDict:
        code = str(request.content.get("code", ""))
        silent = bool(request.content.get("silent", False))
        if request.content.get("store_history", not silent):
            self.execution_count += 1
        count = self.execution_count
        if not silent:
            await self.publish("execute_input", {"code": code, "execution_count": count}, request)
        outcome = await trio.to_thread.run_sync(
            run_cell, code, self.namespace, f"<cell {count}>", abandon_on_cancel=True
        )
        if not silent:
            for name, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
                if text:
                    await self.publish("stream", {"name": name, "text": text}, request)
            if outcome.result is not None:
                content = {
                    "execution_count": count,
                    "data": {"text/plain": repr(outcome.result)},
                    "metadata": {},
                }
                await self.publish("execute_result", content, request)
        if outcome.error is not None:
            if not silent:
                await self.publish("error", outcome.error, request)
            return {"status": "error", "execution_count": count, **outcome.error}
        return {"status": "ok", "execution_count": count, "user_expressions": {}, "payload": []}

    async def is_complete(self, request: Message) -> JSONDict:
        try:
            compiled = codeop.compile_command(str(request.content.get("code", "")), symbol="exec")
        except (SyntaxError, ValueError, OverflowError):
            return {"status": "invalid"}
        if compiled is None:
            return {"status": "incomplete", "indent": ""}
        return {"status": "complete"}

    async def shutdown(self, request: Message) -> JSONDict:
        return {"status": "ok", "restart": bool(request.content.get("restart", False))}

    async def interrupt(self, request: Message) -> JSONDict:
        return {
            "status": "error",
            "ename": "NotImplementedError",
            "evalue": "this kernel cannot interrupt running code",
            "traceback": [],
        }


async def echo(sock: trio_zmq.Socket) -> None:
    """The heartbeat: send every message back to where it came from."""
    while True:
        await sock.send_multipart(await sock.recv_multipart())


async def run_kernel(
    info: ConnectionInfo, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``info``'s ports until a shutdown request has been answered."""
    async with trio_zmq.Context(linger=LINGER_MS) as ctx:
        sockets = {
            "hb": ctx.socket(zmq.ROUTER),
            "shell": ctx.socket(zmq.ROUTER),
            "control": ctx.socket(zmq.ROUTER),
            "stdin": ctx.socket(zmq.ROUTER),
            "iopub": ctx.socket(zmq.PUB),
        }
        for channel, sock in sockets.items():
            sock.bind(info.address(channel))
        kernel = Kernel(info.session(username="kernel"), sockets["iopub"])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo, sockets["hb"])
            nursery.start_soon(kernel.serve, "shell", sockets["shell"], kernel.shell_handlers)
            nursery.start_soon(kernel.serve, "control", sockets["control"], kernel.control_handlers)
            await kernel.publish("status", {"execution_state": "starting"}, None)
            log.info("listening on %s", ", ".join(info.address(c) for c in sockets))
            task_status.started()
            await kernel.shut_down.wait()
            log.info("shut down by request")
            nursery.cancel_scope.cancel()


async def main(info: ConnectionInfo) -> int:
    """Run the kernel: 0 after a shutdown request, 128 + the signal on SIGTERM/SIGINT."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            status = 0

            async def end_on_signal() -> None:
                nonlocal status
                async for signum in signals:
                    log.info("ended by signal %d", signum)
                    status = 128 + signum
                    nursery.cancel_scope.cancel()

            nursery.start_soon(end_on_signal)
            await run_kernel(info)
            nursery.cancel_scope.cancel()
    return status


def kernel_spec() -> JSONDict:
    """The kernelspec (``kernel.json``) that starts this kernel with this Python."""
    return {
        "argv": [sys.executable, "-m", "examples.jupyter.kernel", "-f", "{connection_file}"],
        "display_name": "Python (trio_zmq example)",
        "language": "python",
        "interrupt_mode": "message",  # never SIGINT: that would end the kernel
        "env": {"PYTHONPATH": str(ROOT)},
    }


def install_kernel_spec(directory: Path) -> Path:
    """Write the kernelspec under ``directory/kernels/``; return its folder."""
    folder = directory / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(kernel_spec(), indent=2))
    return folder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m examples.jupyter.kernel``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("-f", "--connection-file", type=Path, help="serve this connection file")
    action.add_argument("--install", type=Path, metavar="DIR", help="write the kernelspec in DIR")
    parser.add_argument(
        "front_end_arguments",
        nargs="*",
        help="ignored: front ends add their own arguments to a kernel's (jupyter run its files)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.install is not None:
        print(install_kernel_spec(arguments.install))
        sys.exit(0)
    logging.basicConfig(level=logging.INFO, format="[trio_zmq kernel] %(levelname)s %(message)s")
    sys.exit(trio.run(main, ConnectionInfo.read(arguments.connection_file)))
