"""A TCP relay that adds a fixed delay each way: an LRS reached over a network, on one machine.

The serve-node measurement (bench/serve_nodes.py) and its raw ceiling talk to the local LRS of
the tests on 127.0.0.1, where a request costs no round trip. A customer's LRS is tens to a
hundred milliseconds away; there a delivery worker waits for the network between its batches.
This relay sits between the clients and the LRS and gives every byte the same one-way delay in
each direction (`round_trip / 2`):

    with DelayRelay(upstream_port, round_trip_seconds=0.05) as relay:
        httpx.post(relay.endpoint(lrs.info.endpoint) + "statements", ...)

- Bytes are forwarded in order, each chunk `delay` after the relay read it, without holding
  back the next chunk (a link's latency, not a bandwidth limit): several requests in flight on
  several connections each pay one round trip, not one after the other.
- One upstream connection per client connection, kept as long as the client keeps it: HTTP
  keep-alive works as it does without the relay. A new connection first pays the TCP
  handshake's round trip (its first bytes reach the LRS 1.5 round trips after the connect);
  TLS is not modelled (the local LRS speaks plain HTTP).
- A half-close (EOF) travels with the same delay; a connection ends when both ways have ended.
  `close()` stops listening, ends every open connection and the relay's thread.

The relay runs its own asyncio loop in a thread, so synchronous code (httpx, subprocesses)
can use it. Standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from bench.loop_server import LOOPBACK, LoopServer

CHUNK = 64 * 1024


@dataclass
class RelayStats:
    """What went through the relay (read after close, or racily while it runs)."""

    connections: int = 0
    bytes_up: int = 0  # client -> upstream
    bytes_down: int = 0  # upstream -> client


class DelayRelay(LoopServer):
    """Listens on 127.0.0.1 (a free port), forwards to `upstream_host:upstream_port` with
    `round_trip_seconds / 2` added to each direction. A context manager. Given several
    upstream ports, each new connection goes to the next one in turn (an LRS that scales out
    behind one address)."""

    thread_name = "delay-relay"

    def __init__(
        self,
        upstream_ports: int | Sequence[int],
        round_trip_seconds: float,
        *,
        upstream_host: str = LOOPBACK,
    ) -> None:
        if round_trip_seconds < 0:
            raise ValueError("round_trip_seconds must be >= 0")
        ports = [upstream_ports] if isinstance(upstream_ports, int) else list(upstream_ports)
        if not ports:
            raise ValueError("no upstream port")
        super().__init__()
        self.upstreams = [(upstream_host, port) for port in ports]
        self._next_upstream = itertools.cycle(self.upstreams)
        self.delay = round_trip_seconds / 2
        self.stats = RelayStats()

    def endpoint(self, url: str) -> str:
        """`url` (an upstream URL such as the LRS's endpoint) pointed at the relay instead."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"{LOOPBACK}:{self.port}"))

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.stats.connections += 1
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            # The handshake: SYN out, SYN-ACK back; the client's first bytes leave after it.
            await asyncio.sleep(2 * self.delay)
            upstream = next(self._next_upstream)
            upstream_reader, upstream_writer = await asyncio.open_connection(*upstream)
            async with asyncio.TaskGroup() as pipes:  # one failing cancels the other
                pipes.create_task(self._pipe(client_reader, upstream_writer, up=True))
                pipes.create_task(self._pipe(upstream_reader, client_writer, up=False))
        except* (ConnectionError, OSError):
            pass  # one side went away: end both
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                        await writer.wait_closed()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        """Reads as fast as bytes come; a second task writes each chunk `delay` after it was
        read, in order. EOF is passed on (half-close) with the same delay."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.get_running_loop().create_task(self._send(queue, writer))
        try:
            while True:
                chunk = await reader.read(CHUNK)
                queue.put_nowait((time.monotonic() + self.delay, chunk))
                if not chunk:
                    break
                if up:
                    self.stats.bytes_up += len(chunk)
                else:
                    self.stats.bytes_down += len(chunk)
            await sender
        finally:
            sender.cancel()

    async def _send(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()


@contextlib.contextmanager
def relayed(
    endpoints: Sequence[str], round_trip_ms: float
) -> Iterator[tuple[str, DelayRelay | None]]:
    """The endpoints (the same server, several processes: same path) reached through one relay
    adding `round_trip_ms`, or directly when there is one and the round trip is 0. Yields the
    URL to use and the relay (None when direct)."""
    if len(endpoints) == 1 and round_trip_ms <= 0:
        yield endpoints[0], None
        return
    ports = [urlsplit(endpoint).port for endpoint in endpoints]
    if None in ports:
        raise ValueError(f"no port in one of {endpoints!r}")
    with DelayRelay([p for p in ports if p is not None], round_trip_ms / 1000) as relay:
        yield relay.endpoint(endpoints[0]), relay
