"""`ponder worker`: lend this machine's memory and CPU (or GPU) to a pooled model.

Runs llama.cpp's ``rpc-server`` from Ponder's own build (the main machine's llama-server
must come from the same ggml build: the RPC protocol checks it at HELLO) in the foreground,
and says the address to add on the main machine. The RPC port has no password: anyone who
can reach it can run code paths in this process and use its memory, so it binds to
loopback unless ``--host`` names another address, and then warns.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import socket
import subprocess
import sys
from types import FrameType
from typing import Any

from app.cli.arg_types import positive_int
from app.core.errors import AppError, BadInputError
from app.hardware.workers import OfferServer
from app.inference import native

DEFAULT_PORT = 50052


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="lend this machine to a model pooled across machines (llama.cpp rpc-server)",
    )
    p.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1, this machine only); the port has no "
        "password, so name a LAN address only on a network you trust",
    )
    p.add_argument(
        "--port", type=positive_int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--threads", type=positive_int, default=None, help="CPU threads (default: llama.cpp's)"
    )
    p.add_argument(
        "--mem",
        type=float,
        default=None,
        metavar="GB",
        help="memory to lend, in GB (default: what is free); the main machine gives this "
        "worker a share of the model no larger than that",
    )
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _lan_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere for real
            return str(s.getsockname()[0])
        except OSError:
            return "THIS-MACHINE"


def run(args: argparse.Namespace) -> int:
    binary = native.program("ggml-rpc-server")
    if binary is None:
        raise AppError(
            "rpc-server is not part of this installation.",
            "Run `make` again (it builds rpc-server with llama.cpp).",
        )
    host = args.host or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        shown = _lan_address()
    else:
        try:
            socket.getaddrinfo(host, args.port)
        except socket.gaierror:
            raise BadInputError(
                f"{host} is not an address of this machine.", "Check --host."
            ) from None
        shown = host
    cmd = [str(binary), "-H", host, "-p", str(args.port)]
    if args.threads:
        cmd += ["-t", str(args.threads)]
    err = sys.stderr
    if not _is_loopback(host):
        err.write(
            f"ponder: warning: {host}:{args.port} has no password. Anyone who can reach it "
            "can use this machine's memory and processor; use it only on a network you "
            "trust, never on the internet.\n"
        )
    err.write(
        f"ponder: worker listening on {shown}:{args.port}. On the main machine:\n"
        f"  ponder chat -m MODEL.gguf --workers {shown}:{args.port}\n"
        "Ctrl+C stops it.\n"
    )
    err.flush()
    if args.mem is not None and args.mem <= 0:
        raise BadInputError("--mem must be more than 0 GB.", "For example: --mem 24")
    # llama.cpp's rpc-server cannot cap what it offers, so the offer is published beside
    # it (the next port, plain HTTP, one JSON document) and the main machine honours it.
    try:
        offer = OfferServer(host, args.port + 1, None if args.mem is None else int(args.mem * 1e9))
    except OSError as exc:
        raise AppError(
            f"Cannot listen on port {args.port + 1} ({exc.strerror}): a worker uses the port "
            "after its own to say how much it lends.",
            "Choose another --port.",
        ) from None
    offer.start()
    if args.mem is not None:
        err.write(f"ponder: lending at most {args.mem:g} GB.\n")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)

    def stop(signum: int, _frame: FrameType | None) -> None:
        proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 0
    finally:
        offer.stop()
    if code not in (0, -signal.SIGTERM):
        raise AppError(
            f"rpc-server stopped (exit code {code}).",
            f"Is port {args.port} already in use? Try --port with another number.",
        )
    return 0
