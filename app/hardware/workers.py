"""Worker machines (llama.cpp's rpc-server, run by `ponder worker`): are they there, what
do they offer, and do they speak this build's protocol.

Asked the way llama.cpp itself asks, over the RPC protocol (ggml-rpc.cpp): HELLO (the
protocol version; client and server must share the major version, or llama-server refuses
the worker), DEVICE_COUNT, then GET_DEVICE_MEMORY for each device. Plain TCP, no
transport upgrade (the HELLO offers no capabilities). No model is touched.
"""

from __future__ import annotations

import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
    return WorkerInfo(address, True, free, total, count, protocol, round_trip)


def probe_workers(
    addresses: list[str] | tuple[str, ...], timeout_s: float = 3.0
) -> list[WorkerInfo]:
    """Every worker, asked at the same time."""
    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(addresses))) as pool:
        return list(pool.map(lambda a: probe_worker(a, timeout_s), addresses))
