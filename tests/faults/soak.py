"""The soak: mixed traffic across test hosts under chaos, for minutes.

``python -m tests.faults.soak --minutes 30`` (``nox -s soak -- --minutes
30``; CI runs one minute) makes two test hosts (``tests/netns.py``) and
runs a peer in each, on trio_zmq in one and plain pyzmq in the other, with
a relay, an echo and a publisher.  The trio side keeps, per host, a PUSH ->
relay -> PULL pipeline, a DEALER talking to the echo and a SUB on the
publisher: six workers, each one or two tasks that send and receive with
every operation under a short deadline.  Meanwhile a chaos task, every one
to three seconds, does one of: cancel a random task's operation, close a
random socket (its tasks, woken with ``ClosedResourceError``, open and
connect a new one), SIGKILL a peer and start it again on the same
endpoints, or take a host's link down for 0.5-2 s.

Every few seconds it prints a line: messages a second per kind, RSS, open
fds and what the chaos did.  It fails (exit status 1, one line) when

* a message arrives torn, twice or out of order for its sender (lost
  messages are counted, not failed: a killed peer or a closed socket loses
  what was in flight, which libzmq allows);
* a task makes no progress for ``--window`` seconds;
* after the warm-up, RSS grows by more than ``--max-rss-growth`` MB, or,
  after a quiet spell at the end, more fds are open than after the warm-up
  plus ``--max-fd-growth``.

Ctrl-C stops it with one line and exit status 130; a bad argument is one
line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio
import zmq

import trio_zmq
from trio_zmq._cli._command import Parser, run_command

from tests.faults.messages import make, parse
from tests.helpers import ROOT, is_failure_of, open_fds
from tests.netns import Host, Network, PeerProcess, probe

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

PROG = "python -m tests.faults.soak"
RELAY, ECHO, PUB = 5000, 5002, 5003
PATIENCE = 0.05  # seconds an operation may wait before it is cancelled and retried
RATE = 100  # messages a second per sending task
SIZE = 512
QUIET = 8.0  # seconds without chaos at the end, before the final figures


class SoakFailure(Exception):
    """The soak saw a broken promise; the message says which."""


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=positive_float, default=1.0, help="how long (1)")
    parser.add_argument("--interval", type=positive_float, default=5.0, help="seconds per line (5)")
    parser.add_argument(
        "--window", type=positive_float, default=15.0, help="max seconds a task may stall (15)"
    )
    parser.add_argument("--warmup", type=positive_float, default=15.0, help="seconds (15)")
    parser.add_argument("--max-rss-growth", type=positive_float, default=32.0, metavar="MB")
    parser.add_argument("--max-fd-growth", type=int, default=8, metavar="N")
    parser.add_argument("--seed", type=int, default=None, help="of the chaos (random)")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench-results" / "soak.json", help="figures file"
    )
    return parser


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SoakFailure("no VmRSS in /proc/self/status")


@dataclass
class Tally:
    """A receiver's check in constant memory: last seq per sender."""

    last: dict[bytes, int] = field(default_factory=dict)
    received: int = 0
    lost: int = 0

    def record(self, frames: list[bytes]) -> None:
        try:
            sender, seq = parse(frames)
        except AssertionError as exc:
            raise SoakFailure(f"torn message: {exc}") from None
        previous = self.last.get(sender, -1)
        if seq <= previous:
            raise SoakFailure(f"{sender!r}: #{seq} after #{previous} (duplicate or reordered)")
        if previous >= 0 or not sender.startswith(b"pub-"):  # a SUB joins late
            self.lost += seq - previous - 1
        self.last[sender] = seq
        self.received += 1


@dataclass
class Worker:
    """One pattern towards one host: its sockets, its tasks' progress."""

    name: str
    kinds: tuple[int, ...]  # socket types; the first sends unless it is a SUB
    endpoints: tuple[str, ...]
    tally: Tally = field(default_factory=Tally)
    sockets: list[trio_zmq.Socket] = field(default_factory=list)
    scopes: list[trio.CancelScope] = field(default_factory=list)
    progress: dict[str, int] = field(default_factory=dict)
    generation: int = 0
    cancelled: int = 0  # operations cancelled (deadline or chaos), then retried

    def __post_init__(self) -> None:
        self.progress = {"send": 0, "recv": 0} if self.sends else {"recv": 0}

    @property
    def sends(self) -> bool:
        return self.kinds[0] != zmq.SUB


@dataclass
class Chaos:
    counts: dict[str, int] = field(default_factory=dict)

    def did(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


async def attempt(worker: Worker, op: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
    """(True, result) if ``op`` completed; (False, None) if it was cancelled
    (by its deadline or by the chaos) -- then it did nothing."""
    with trio.move_on_after(PATIENCE) as scope:
        worker.scopes.append(scope)
        try:
            return True, await op()
        finally:
            worker.scopes.remove(scope)
    worker.cancelled += 1
    return False, None


async def sender(worker: Worker, sock: trio_zmq.Socket) -> None:
    name = f"{worker.name}-g{worker.generation}".encode()
    seq = 0
    while True:
        message = make(name, seq, SIZE)
        done, _ = await attempt(worker, partial(sock.send_multipart, message))
        if done:
            seq += 1
            worker.progress["send"] += 1
            await trio.sleep(1 / RATE)


async def receiver(worker: Worker, sock: trio_zmq.Socket) -> None:
    while True:
        done, frames = await attempt(worker, sock.recv_multipart)
        if done:
            worker.tally.record(frames)
            worker.progress["recv"] += 1


async def run_worker(worker: Worker, ctx: trio_zmq.Context) -> None:
    """Open the sockets and run the tasks; when the chaos closes a socket,
    open them all again (a new generation, a new sender name)."""
    while True:
        worker.generation += 1
        worker.sockets = [ctx.socket(kind) for kind in worker.kinds]
        try:
            for sock, endpoint in zip(worker.sockets, worker.endpoints, strict=True):
                sock.linger = 0
                if sock.type == zmq.SUB:
                    sock.subscribe(b"")
                sock.connect(endpoint)
            async with trio.open_nursery() as nursery:
                if worker.sends:
                    nursery.start_soon(sender, worker, worker.sockets[0])
                nursery.start_soon(receiver, worker, worker.sockets[-1])
        except BaseException as exc:  # re-raised unless the chaos closed a socket
            if not is_failure_of(exc, trio.ClosedResourceError):
                raise
        finally:
            for sock in worker.sockets:
                sock.close()


def failures(exc: BaseException) -> list[SoakFailure]:
    """The SoakFailures in ``exc`` (a group, possibly nested), if that is all it holds."""
    if isinstance(exc, SoakFailure):
        return [exc]
    if isinstance(exc, BaseExceptionGroup) and is_failure_of(exc, SoakFailure):
        return [f for sub in exc.exceptions for f in failures(sub)]
    return []


async def chaos(
    rng: random.Random,
    workers: list[Worker],
    peers: list[PeerProcess],
    net: Network,
    record: Chaos,
    nursery: trio.Nursery,
) -> None:
    while True:
        await trio.sleep(rng.uniform(1, 3))
        action = rng.choice(["cancel", "cancel", "close", "restart", "partition"])
        if action == "cancel":
            scopes = [scope for worker in workers for scope in worker.scopes]
            if scopes:
                rng.choice(scopes).cancel()
        elif action == "close":
            worker = rng.choice(workers)
            rng.choice(worker.sockets).close()
        elif action == "restart":
            peer = rng.choice(peers)
            peer.signal(signal.SIGKILL)
            await peer.start(nursery)
        else:
            host = rng.choice(net.hosts)
            await net.link_down(host)
            try:
                await trio.sleep(rng.uniform(0.5, 2))
            finally:
                with trio.CancelScope(shield=True):
                    await net.link_up(host)
        record.did(action)


def progress_of(workers: list[Worker]) -> dict[str, int]:
    return {f"{w.name}/{op}": n for w in workers for op, n in w.progress.items()}


async def soak(args: argparse.Namespace, net: Network) -> dict[str, Any]:
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    print(f"{PROG}: {args.minutes:g} min, chaos seed {seed}", file=sys.stderr, flush=True)
    duration = args.minutes * 60
    record = Chaos()
    async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
        peers = []
        workers = []
        for host, impl in zip(net.hosts, ("trio", "pyzmq"), strict=True):
            peers.append(PeerProcess(host, *peer_args(host, impl)))
            await peers[-1].start(nursery)
            relay = (host.endpoint(RELAY), host.endpoint(RELAY + 1))
            workers += [
                Worker(f"pipe-{impl}", (zmq.PUSH, zmq.PULL), relay),
                Worker(f"echo-{impl}", (zmq.DEALER,), (host.endpoint(ECHO),)),
                Worker(f"sub-{impl}", (zmq.SUB,), (host.endpoint(PUB),)),
            ]
        for worker in workers:
            nursery.start_soon(run_worker, worker, ctx)
        chaos_scope = trio.CancelScope()

        async def run_chaos() -> None:
            with chaos_scope:
                await chaos(rng, workers, peers, net, record, nursery)

        nursery.start_soon(run_chaos)
        try:
            figures = await observe(args, workers, record, duration, chaos_scope)
        finally:
            for peer in peers:
                await peer.kill()
            nursery.cancel_scope.cancel()
    figures["seed"] = seed
    return figures


def peer_args(host: Host, impl: str) -> list[str]:
    ports = ["--relay", str(RELAY), "--echo", str(ECHO), "--pub", str(PUB)]
    return ["--address", host.address, "--impl", impl, *ports, "--rate", str(RATE)]


async def observe(
    args: argparse.Namespace,
    workers: list[Worker],
    record: Chaos,
    duration: float,
    chaos_scope: trio.CancelScope,
) -> dict[str, Any]:
    """Print a line every interval; check progress, RSS and fds; stop the
    chaos at the end, wait the quiet spell, and return the figures."""
    start = trio.current_time()
    history: list[tuple[float, dict[str, int]]] = [(start, progress_of(workers))]
    baseline: tuple[float, int] | None = None
    throughput: list[float] = []
    peak_rss = 0.0
    end = start + duration
    while True:
        now = trio.current_time()
        if now >= end + QUIET:
            break
        if now >= end and not chaos_scope.cancel_called:
            chaos_scope.cancel()
            print(f"{PROG}: chaos stopped; {QUIET:g} s of quiet", file=sys.stderr, flush=True)
        await trio.sleep(min(args.interval, end + QUIET - now))
        now = trio.current_time()
        counts = progress_of(workers)
        before_time, before = history[-1]
        rate = sum(counts[k] - before[k] for k in counts if k.endswith("recv")) / (
            now - before_time
        )
        history.append((now, counts))
        rss, fds = rss_mb(), open_fds()
        peak_rss = max(peak_rss, rss)
        if baseline is None and now - start >= args.warmup:
            baseline = (rss, fds)
        if baseline is not None:
            throughput.append(rate)
        lost = sum(w.tally.lost for w in workers)
        print(
            f"t={now - start:6.0f}s  {rate:7.0f} msg/s received  rss {rss:6.1f} MB  fds {fds:4d}"
            f"  lost {lost:5d}  chaos {dict(sorted(record.counts.items()))}",
            flush=True,
        )
        check_progress(history, args.window)
        if baseline is not None and rss - baseline[0] > args.max_rss_growth:
            raise SoakFailure(
                f"RSS grew {rss - baseline[0]:.1f} MB since the warm-up "
                f"(bound {args.max_rss_growth:g} MB)"
            )
    if baseline is None:
        raise SoakFailure(f"the run ended within its warm-up of {args.warmup:g} s")
    rss, fds = rss_mb(), open_fds()
    if fds - baseline[1] > args.max_fd_growth:
        raise SoakFailure(
            f"{fds} fds open after the quiet spell, {baseline[1]} after the warm-up "
            f"(bound +{args.max_fd_growth})"
        )
    return {
        "minutes": args.minutes,
        "throughput_msgs_per_s": {
            "min": min(throughput),
            "mean": sum(throughput) / len(throughput),
            "max": max(throughput),
        },
        "rss_mb": {"after_warmup": baseline[0], "end": rss, "peak": peak_rss},
        "fds": {"after_warmup": baseline[1], "end": fds},
        "received": sum(w.tally.received for w in workers),
        "lost": sum(w.tally.lost for w in workers),
        "chaos": record.counts,
        "operations_cancelled": sum(w.cancelled for w in workers),
        "socket_generations": {w.name: w.generation for w in workers},
    }


def check_progress(history: list[tuple[float, dict[str, int]]], window: float) -> None:
    """Every task made progress within the last ``window`` seconds."""
    now, counts = history[-1]
    past = [(t, c) for t, c in history if now - t >= window]
    if not past:
        return
    _, then = past[-1]
    stalled = sorted(name for name in counts if counts[name] == then.get(name, 0))
    if stalled:
        raise SoakFailure(f"no progress in {window:g} s: {', '.join(stalled)}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(PROG, lambda: run(args))


def run(args: argparse.Namespace) -> int:
    reason = probe()
    if reason is not None:
        print(f"{PROG}: cannot make test hosts: {reason}", file=sys.stderr)
        return 1
    began = time.monotonic()
    try:
        with Network(2, tag="soak") as net:
            figures = trio.run(soak, args, net)
    except BaseException as exc:
        found = failures(exc)
        if not found:
            raise
        for failure in found:
            print(f"{PROG}: FAILED: {failure}", file=sys.stderr)
        return 1
    figures["seconds"] = time.monotonic() - began
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    print(f"{PROG}: passed; figures in {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
