"""bench/relay.py: the delay relay between the serve nodes and the local LRS. Real sockets on
127.0.0.1; no timing is asserted beyond "at least the delay"."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from bench.relay import CHUNK, DelayRelay

ROUND_TRIP = 0.2


class _EchoHandler(BaseHTTPRequestHandler):
    """POST answers with the body it got; keep-alive (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Connection", str(id(self.connection)))
        self.send_header("X-Server-Port", str(self.connection.getsockname()[1]))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_http() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echo_tcp() -> Iterator[int]:
    """A raw TCP echo server: every byte back, in order, until the client half-closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stopping.set()
        listener.close()


def test_a_request_through_the_relay_takes_at_least_the_round_trip(echo_http: int) -> None:
    with (
        DelayRelay(echo_http, ROUND_TRIP) as relay,
        httpx.Client(base_url=f"http://127.0.0.1:{relay.port}") as client,
    ):
        client.post("/", content=b"warm").raise_for_status()  # the connection and its handshake
        started = time.perf_counter()
        answer = client.post("/", content=b"x")
        elapsed = time.perf_counter() - started
    assert answer.content == b"x"
    assert elapsed >= ROUND_TRIP


def test_a_new_connection_also_pays_the_handshake(echo_http: int) -> None:
    with DelayRelay(echo_http, ROUND_TRIP) as relay:
        started = time.perf_counter()
        httpx.post(f"http://127.0.0.1:{relay.port}/", content=b"x").raise_for_status()
        elapsed = time.perf_counter() - started
    assert elapsed >= 2 * ROUND_TRIP


def test_requests_on_a_kept_alive_connection_arrive_whole_and_in_order(echo_http: int) -> None:
    """Bodies larger than the relay's read chunk, several on one connection: each answer is
    the request's bytes, and the relay saw one connection."""
    bodies = [os.urandom(n) for n in (1, CHUNK - 1, CHUNK + 1, 3 * CHUNK + 17, 1_000_000)]
    with (
        DelayRelay(echo_http, 0.02) as relay,
        httpx.Client(base_url=f"http://127.0.0.1:{relay.port}") as client,
    ):
        answers = [client.post("/", content=body) for body in bodies]
    assert [hashlib.sha256(a.content).hexdigest() for a in answers] == [
        hashlib.sha256(b).hexdigest() for b in bodies
    ]
    assert len({a.headers["X-Connection"] for a in answers}) == 1
    assert relay.stats.connections == 1
    assert relay.stats.bytes_up > sum(len(b) for b in bodies)


def test_a_byte_stream_comes_back_in_order_with_the_half_close(echo_tcp: int) -> None:
    """Many small writes, then EOF: the echo through the relay is the same stream, then EOF."""
    sent = b"".join(i.to_bytes(4, "big") for i in range(50_000))
    with (
        DelayRelay(echo_tcp, 0.02) as relay,
        socket.create_connection(("127.0.0.1", relay.port)) as conn,
    ):
        for i in range(0, len(sent), 1000):
            conn.sendall(sent[i : i + 1000])
        conn.shutdown(socket.SHUT_WR)
        received = bytearray()
        conn.settimeout(10)
        while data := conn.recv(65536):
            received += data
    assert bytes(received) == sent


def test_close_ends_open_connections_and_stops_listening(echo_tcp: int) -> None:
    relay = DelayRelay(echo_tcp, 0.02).start()
    port = relay.port
    conn = socket.create_connection(("127.0.0.1", port))
    conn.settimeout(10)
    conn.sendall(b"ping")
    assert conn.recv(4) == b"ping"

    relay.close()

    assert conn.recv(1) == b""  # the relay closed its side
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert not any(t.name == "delay-relay" for t in threading.enumerate())
    with pytest.raises(RuntimeError):
        _ = relay.port


def test_endpoint_points_an_url_at_the_relay(echo_tcp: int) -> None:
    with DelayRelay(echo_tcp, 0) as relay:
        assert relay.endpoint("http://127.0.0.1:9/xAPI/") == f"http://127.0.0.1:{relay.port}/xAPI/"


def test_new_connections_go_to_each_upstream_in_turn(echo_http: int) -> None:
    second = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=second.serve_forever, daemon=True)
    thread.start()
    try:
        with DelayRelay([echo_http, int(second.server_address[1])], 0) as relay:
            url = f"http://127.0.0.1:{relay.port}/"
            answers = [httpx.post(url, content=f"{i}".encode()) for i in range(4)]
    finally:
        second.shutdown()
        second.server_close()
    assert [a.content for a in answers] == [b"0", b"1", b"2", b"3"]
    first, other = str(echo_http), str(second.server_address[1])
    assert [a.headers["X-Server-Port"] for a in answers] == [first, other, first, other]
    assert relay.stats.connections == 4
