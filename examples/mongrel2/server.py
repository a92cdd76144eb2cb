"""Run a real Mongrel2 for the handler: config, ``m2sh load``, the process.

:func:`running_mongrel2` is an async context manager: it fills in the config
template ``mongrel2.conf`` (free ports on 127.0.0.1, fresh UUIDs), loads it
into a SQLite database with ``m2sh load``, starts ``mongrel2`` as a child in
its own nursery task and returns once Mongrel2 accepts HTTP connections.
Leaving the block cancels that task, which stops Mongrel2 with SIGTERM (and
SIGKILL if it is still there five seconds later, trio's rule).  Mongrel2
exiting on its own (say, because its port is taken), at the start or while
the block runs, is a :class:`Mongrel2Error`, raised out of the block in an
exception group.

Mongrel2 wants a directory of its own with ``run/``, ``logs/`` and ``tmp/``;
started as root it chroots into it and runs as the directory's owner, so a
temporary directory made by root works as it is (in CI too).  Its output
goes to ``mongrel2.out`` there and its log to ``logs/error.log``; both are
quoted in the errors raised here.
"""

from __future__ import annotations

import os
import shutil
import socket
import string
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

#: The config template; its placeholders are filled in by :func:`write_config`.
TEMPLATE = Path(__file__).with_name("mongrel2.conf")
#: Seconds for ``m2sh load`` and for Mongrel2 to start listening.
STARTUP_TIMEOUT = 15.0


class Mongrel2Error(Exception):
    """Mongrel2 or m2sh is missing, failed to start, or exited under us."""


@dataclass(frozen=True)
class Mongrel2Config:
    """Where one Mongrel2 lives and listens."""

    directory: Path
    http_port: int
    send_spec: str  # Mongrel2 PUSHes requests here; the handler PULLs
    recv_spec: str  # the handler PUBlishes replies here; Mongrel2 SUBscribes
    send_ident: str  # the SENDER of every request
    server_uuid: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    @property
    def database(self) -> Path:
        return self.directory / "config.sqlite"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(directory: Path, *, http_port: int | None = None) -> Mongrel2Config:
    """Fill in the template into ``directory/mongrel2.conf``, with run/, logs/, tmp/."""
    config = Mongrel2Config(
        directory=directory,
        http_port=http_port or free_port(),
        send_spec=f"tcp://127.0.0.1:{free_port()}",
        recv_spec=f"tcp://127.0.0.1:{free_port()}",
        send_ident=str(uuid.uuid4()),
        server_uuid=str(uuid.uuid4()),
    )
    for name in ("run", "logs", "tmp"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    text = string.Template(TEMPLATE.read_text()).substitute(
        http_port=config.http_port,
        send_spec=config.send_spec,
        recv_spec=config.recv_spec,
        send_ident=config.send_ident,
        server_uuid=config.server_uuid,
    )
    (directory / "mongrel2.conf").write_text(text)
    return config


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Mongrel2Error(f"{name} is not installed (Debian: apt-get install mongrel2-core)")
    return path


def _log_tail(config: Mongrel2Config, lines: int = 15) -> str:
    """The end of Mongrel2's output and error log, for error messages."""
    tails = []
    for path in (config.directory / "mongrel2.out", config.directory / "logs" / "error.log"):
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}:\n" + "\n".join(text))
    return "\n".join(tails) or "(no output)"


async def load_config(config: Mongrel2Config) -> None:
    """``m2sh load`` the config into ``config.database``."""
    command = [_program("m2sh"), "load", "-config", "mongrel2.conf", "-db", config.database.name]
    with trio.fail_after(STARTUP_TIMEOUT):
        done = await trio.run_process(
            command,
            cwd=config.directory,
            # m2sh logs an [ERROR] when it cannot tell who you are (it
            # records the user in its commit log): in CI and containers
            # nobody is logged in.
            env={**os.environ, "LOGNAME": os.environ.get("LOGNAME", "trio_zmq")},
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    output = (done.stdout + done.stderr).decode(errors="replace")
    # m2sh says what went wrong but may still exit 0: check the database too.
    if done.returncode != 0 or "[ERROR]" in output or not config.database.exists():
        raise Mongrel2Error(f"m2sh load failed (status {done.returncode}):\n{output}")


async def _run_mongrel2(
    config: Mongrel2Config, *, task_status: trio.TaskStatus[trio.Process]
) -> None:
    command = [_program("mongrel2"), config.database.name, config.server_uuid]
    with (config.directory / "mongrel2.out").open("wb") as out:
        done = await trio.run_process(
            command,
            cwd=config.directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            task_status=task_status,
        )
    raise Mongrel2Error(f"mongrel2 exited with status {done.returncode}:\n{_log_tail(config)}")


async def _wait_listening(config: Mongrel2Config, process: trio.Process) -> None:
    """Return once Mongrel2 has written its pid file, which it does after it
    has bound its HTTP port (so nothing else on the port fools us), and
    accepts a TCP connection there."""
    pid_file = config.directory / "run" / "mongrel2.pid"
    while True:
        if pid_file.exists() and pid_file.read_text().strip() == str(process.pid):
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", config.http_port)
            except OSError:
                pass
            else:
                await stream.aclose()
                return
        await trio.sleep(0.05)


@asynccontextmanager
async def running_mongrel2(
    directory: Path, *, http_port: int | None = None
) -> AsyncIterator[Mongrel2Config]:
    """A Mongrel2 serving HTTP on 127.0.0.1, run from ``directory``, until the block ends."""
    config = write_config(directory, http_port=http_port)
    await load_config(config)
    async with trio.open_nursery() as nursery:
        process = await nursery.start(_run_mongrel2, config)
        try:
            with trio.fail_after(STARTUP_TIMEOUT):
                await _wait_listening(config, process)
        except trio.TooSlowError:
            raise Mongrel2Error(
                f"mongrel2 did not listen on port {config.http_port} within "
                f"{STARTUP_TIMEOUT} s:\n{_log_tail(config)}"
            ) from None
        yield config
        nursery.cancel_scope.cancel()
