"""Test hosts: network namespaces joined to this one by veth pairs.

:class:`Network` makes ``count`` hosts.  Host ``i`` is a network namespace
with its loopback up and one end of a veth pair; the other end stays in
the namespace of the process that made it (the test's, usually the root
namespace).  Each pair is a /30 of a private 10.x.y.0/24 that no interface
or route of this machine uses: the near end is ``.4i+1``, the host
``.4i+2``, with a default route through the near end.  Traffic between the
test and a host stays on that pair.

Names carry the prefix ``tzf`` and the pid of the process that made them
(``tzf1234h0`` for the namespace, ``tzf1234r0`` / ``tzf1234p0`` for the
near and far ends of the veth), so parallel runs never collide, and
:func:`remove_leftovers` deletes what an earlier run left behind when its
process died without cleaning up (that process's pid is gone).

Faults (all need root): :meth:`Network.link_down` / :meth:`Network.link_up`
(a partition), :meth:`Network.shape` (``tc ... tbf``: a slow link with a
short queue; this kernel has no ``netem``).  Peer processes run inside a
host with :meth:`Host.command` (``ip netns exec``); see
:class:`PeerProcess`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import trio

from tests.helpers import ROOT, kill_process

PREFIX = "tzf"
#: How to get what the fault tests need, for :func:`tests.peers.missing`.
WHAT = "network namespaces (ip netns, veth, tc; as root)"
INSTALL = "run as root with iproute2: apt-get install -y iproute2"
#: A peer process importing trio and pyzmq on a busy 2-core machine.
STARTUP_BOUND = 30.0


class NetnsError(RuntimeError):
    """An ``ip``/``tc`` command failed; the message has its stderr."""


def run(*argv: str) -> str:
    """Run ``argv`` (an ``ip`` or ``tc`` command); its stdout, or NetnsError."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


async def arun(*argv: str) -> None:
    """:func:`run` from a trio task, without blocking the run."""
    done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.decode().strip() or done.returncode}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> list[str]:
    """Delete namespaces and veths of earlier runs whose process is gone
    (killing what still runs in those namespaces); return their names."""
    pattern = re.compile(rf"^({PREFIX}(\d+)\w*)")
    removed = []
    for line in run("ip", "netns", "list").splitlines():
        match = pattern.match(line)
        if match and not _pid_alive(int(match.group(2))):
            _delete_namespace(match.group(1))
            removed.append(match.group(1))
    for line in run("ip", "route", "show").splitlines():
        match = re.match(r"^unreachable (10\.\d+\.\d+\.0/24) metric (\d+)", line)
        if match and not _pid_alive(int(match.group(2))):
            subprocess.run(
                ["ip", "route", "del", "unreachable", match.group(1), "metric", match.group(2)],
                capture_output=True,
                check=False,
            )
            removed.append(f"route {match.group(1)}")
    for line in run("ip", "-o", "link", "show").splitlines():
        match = re.match(rf"^\d+: ({PREFIX}(\d+)\w*)[@:]", line)
        if match and not _pid_alive(int(match.group(2))):
            subprocess.run(["ip", "link", "del", match.group(1)], capture_output=True, check=False)
            removed.append(match.group(1))
    return removed


def _delete_namespace(name: str) -> None:
    """Kill every process in namespace ``name``, then delete it."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    for pid in pids.stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network this namespace has an address or a route in."""
    used = []
    text = run("ip", "-4", "-o", "addr", "show") + run("ip", "-4", "route", "show", "table", "all")
    for token in re.findall(r"\b(\d+\.\d+\.\d+\.\d+(?:/\d+)?)", text):
        used.append(ipaddress.IPv4Network(token, strict=False))
    return used


def free_subnet(pid: int) -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 (derived from ``pid``) that overlaps nothing in use."""
    used = _used_networks()
    for step in range(4096):
        key = (pid + step * 7919) % (64 * 256)
        candidate = ipaddress.IPv4Network(f"10.{192 + key // 256}.{key % 256}.0/24")
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise NetnsError("no free 10.192-255.x.0/24 for the test hosts")


@dataclass
class Host:
    """One test host: a namespace and its veth pair to the test."""

    name: str  # the namespace
    address: str  # the host's address on the pair
    near_address: str  # the test's end of the pair
    near_link: str  # the veth end in the test's namespace
    far_link: str  # the veth end in the host

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.name, *argv]

    def endpoint(self, port: int) -> str:
        return f"tcp://{self.address}:{port}"


@dataclass
class Network:
    """``count`` hosts, made by :meth:`create`, removed by :meth:`destroy`."""

    count: int
    tag: str = ""
    hosts: list[Host] = field(default_factory=list)
    #: The ``unreachable`` route that keeps the test subnet in.
    fence: tuple[str, ...] = ()
    #: (monotonic time, what) for every fault, in order.
    log: list[tuple[float, str]] = field(default_factory=list)

    def create(self) -> Network:
        """Make the hosts; on any failure remove what was made, then raise."""
        pid = os.getpid()
        subnet = free_subnet(pid)
        base = f"{PREFIX}{pid}{self.tag}"
        self.fence = ("unreachable", str(subnet), "metric", str(pid))
        try:
            run("ip", "route", "add", *self.fence)
            for i in range(self.count):
                near, far = subnet[4 * i + 1], subnet[4 * i + 2]
                host = Host(f"{base}h{i}", str(far), str(near), f"{base}r{i}", f"{base}p{i}")
                self.hosts.append(host)
                run("ip", "netns", "add", host.name)
                run(
                    "ip",
                    "link",
                    "add",
                    host.near_link,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    host.far_link,
                )
                run("ip", "link", "set", host.far_link, "netns", host.name)
                run("ip", "addr", "add", f"{near}/30", "dev", host.near_link)
                run("ip", "link", "set", host.near_link, "up")
                ns = ("ip", "-n", host.name)
                run(*ns, "link", "set", "lo", "up")
                run(*ns, "addr", "add", f"{far}/30", "dev", host.far_link)
                run(*ns, "link", "set", host.far_link, "up")
                run(*ns, "route", "add", "default", "via", str(near))
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self) -> None:
        """Kill what runs in the hosts and delete them and their veths.
        Never raises: it runs on the way out of failed tests."""
        for host in self.hosts:
            _delete_namespace(host.name)
            # Deleting the namespace deletes the pair, in the background;
            # say it explicitly so the name is free at once.
            subprocess.run(["ip", "link", "del", host.near_link], capture_output=True, check=False)
        self.hosts.clear()
        if self.fence:
            subprocess.run(["ip", "route", "del", *self.fence], capture_output=True, check=False)
            self.fence = ()

    def __enter__(self) -> Network:
        return self.create()

    def __exit__(self, *exc_info: object) -> None:
        self.destroy()

    def note(self, what: str) -> None:
        self.log.append((time.monotonic(), what))

    async def link_down(self, host: Host) -> None:
        """Partition ``host``: both ends of its pair go down."""
        self.note(f"link down {host.name}")
        await arun("ip", "-n", host.name, "link", "set", host.far_link, "down")
        await arun("ip", "link", "set", host.near_link, "down")

    async def link_up(self, host: Host) -> None:
        """Heal the partition; the routes the addresses imply come back."""
        await arun("ip", "link", "set", host.near_link, "up")
        await arun("ip", "-n", host.name, "link", "set", host.far_link, "up")
        await arun("ip", "-n", host.name, "route", "replace", "default", "via", host.near_address)
        self.note(f"link up {host.name}")

    async def shape(
        self, host: Host, rate: str, burst: str = "32kbit", latency: str = "400ms"
    ) -> None:
        """Limit the test's traffic to ``host`` with a token bucket (tbf)."""
        await arun(
            "tc", "qdisc", "replace", "dev", host.near_link, "root", "tbf",
            "rate", rate, "burst", burst, "latency", latency,
        )  # fmt: skip

    async def unshape(self, host: Host) -> None:
        await arun("tc", "qdisc", "del", "dev", host.near_link, "root")


def probe() -> str | None:
    """Try to make and remove one host; None if that works, else why not."""
    if sys.platform != "linux":
        return f"network namespaces need Linux, not {sys.platform}"
    try:
        remove_leftovers()
        with Network(1, tag="probe"):
            pass
    except (NetnsError, OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None


class PeerProcess:
    """A peer program in a host, restartable: ``python -m tests.faults.peer ...``.

    It prints ``ready`` once its sockets are bound; :meth:`start` waits for
    that.  Every other line it prints is kept in :attr:`lines`.  It exits by
    itself when its standard input closes (the test died).
    """

    def __init__(self, host: Host, *args: str, module: str = "tests.faults.peer") -> None:
        self.host = host
        self.args = list(args)
        self.module = module
        self.process: trio.Process | None = None
        self.lines: list[str] = []
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.process is not None, "the peer is not running"
        return self.process.pid

    async def start(self, nursery: trio.Nursery) -> None:
        """Start the program (killing a running one); return once it is ready.
        Its output is read by a task in ``nursery`` until it exits."""
        await self.kill()
        argv = self.host.command(sys.executable, "-m", self.module, *self.args)
        process = await trio.lowlevel.open_process(
            argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.process = process
        self.starts += 1
        ready = trio.Event()
        nursery.start_soon(self._read, process, ready)
        with trio.fail_after(STARTUP_BOUND):
            await ready.wait()
            if "ready" not in self.lines:  # its output ended first: it exited
                status = await process.wait()
                raise AssertionError(f"peer {self.args} exited ({status}) before 'ready'")
        self.lines.remove("ready")

    async def _read(self, process: trio.Process, ready: trio.Event) -> None:
        assert process.stdout is not None
        buffer = b""
        async with process.stdout:
            while chunk := await process.stdout.receive_some():
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for line in complete:
                    text = line.decode()
                    self.lines.append(text)
                    if text == "ready":
                        ready.set()
        ready.set()

    def signal(self, signum: int) -> None:
        assert self.process is not None, "the peer is not running"
        self.process.send_signal(signum)

    async def kill(self) -> None:
        """SIGKILL the program, if it runs, and reap it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        await kill_process(process)
        if process.stdin is not None:
            await process.stdin.aclose()
