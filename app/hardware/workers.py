"""Worker machines (llama.cpp's rpc-server, run by `ponder worker`): are they there, what
do they offer, and do they speak this build's protocol.

Asked the way llama.cpp itself asks, over the RPC protocol (ggml-rpc.cpp): HELLO (the
protocol version; client and server must share the major version, or llama-server refuses
the worker), DEVICE_COUNT, then GET_DEVICE_MEMORY for each device. Plain TCP, no
transport upgrade (the HELLO offers no capabilities). No model is touched.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CMD_GET_DEVICE_MEMORY = 11
CMD_HELLO = 14
CMD_DEVICE_COUNT = 15
CONN_CAPS_SIZE = 24


@dataclass(frozen=True)
class WorkerInfo:
    """One worker as seen from here."""

    address: str
    reachable: bool
    free_bytes: int = 0
    total_bytes: int = 0
    devices: int = 0
    protocol: tuple[int, int, int] | None = None
    round_trip_s: float | None = None  # one request and its answer
    problem: str = ""  # why it cannot be used, in words
    offered_bytes: int | None = None  # `ponder worker --mem`: the most it lends

    @property
    def usable_bytes(self) -> int:
        """What the main machine may put there: its free memory, or less when it offers
        less."""
        if self.offered_bytes is None:
            return self.free_bytes
        return min(self.free_bytes, self.offered_bytes)

    def compatible(self, expected: tuple[int, int, int] | None) -> bool:
        """Whether llama-server from this build would accept it (same major version, a
        minor no newer than ours)."""
        if not self.reachable or self.protocol is None:
            return False
        if expected is None:
            return True
        return self.protocol[0] == expected[0] and self.protocol[1] <= expected[1]


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the worker closed the connection")
            data += chunk
        return data

    def call(self, cmd: int, payload: bytes, reply_size: int) -> bytes:
        self.sock.sendall(struct.pack("<BQ", cmd, len(payload)) + payload)
        (size,) = struct.unpack("<Q", self.exact(8))
        if size != reply_size:
            raise ConnectionError(f"unexpected reply size {size} (expected {reply_size})")
        return self.exact(size)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def probe_worker(address: str, timeout_s: float = 3.0) -> WorkerInfo:
    """Ask one worker what it offers (never raises)."""
    try:
        host, port = _split(address)
    except ValueError:
        return WorkerInfo(address, False, problem="not HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            hello = conn.call(CMD_HELLO, bytes(CONN_CAPS_SIZE), 4 + CONN_CAPS_SIZE)
            protocol = (hello[0], hello[1], hello[2])
            started = time.perf_counter()
            (count,) = struct.unpack("<I", conn.call(CMD_DEVICE_COUNT, b"", 4))
            round_trip = time.perf_counter() - started
            free = total = 0
            for device in range(count):
                reply = conn.call(CMD_GET_DEVICE_MEMORY, struct.pack("<I", device), 16)
                f, t = struct.unpack("<QQ", reply)
                free, total = free + f, total + t
    except (OSError, ConnectionError, struct.error) as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
        return WorkerInfo(address, False, problem=f"not reachable ({reason})")
    return WorkerInfo(
        address, True, free, total, count, protocol, round_trip, "", _offer(host, port + 1)
    )


def _offer(host: str, port: int, timeout_s: float = 1.0) -> int | None:
    """What `ponder worker --mem` published beside its rpc-server (None: no cap, or not a
    Ponder worker)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/ponder-worker", timeout=timeout_s) as r:
            data = json.loads(r.read(4096))
        value = data.get("offered_bytes")
        return int(value) if isinstance(value, int) and value > 0 else None
    except (OSError, ValueError, AttributeError):
        return None


class OfferServer:
    """`ponder worker`'s published offer: ``GET /ponder-worker`` -> ``{"offered_bytes": N}``
    on the port after rpc-server's (rpc-server itself has no way to cap its offer)."""

    def __init__(self, host: str, port: int, offered_bytes: int | None) -> None:
        body = json.dumps({"offered_bytes": offered_bytes}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/ponder-worker":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def probe_workers(
    addresses: list[str] | tuple[str, ...], timeout_s: float = 3.0
) -> list[WorkerInfo]:
    """Every worker, asked at the same time."""
    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(addresses))) as pool:
        return list(pool.map(lambda a: probe_worker(a, timeout_s), addresses))
