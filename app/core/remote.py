"""Addresses of other machines the chat can use: workers (``HOST:PORT`` of a `ponder worker`)
and OpenAI-compatible servers (``http(s)://HOST[:PORT]``), checked before they are kept.

Each check answers ``None`` for a good address, else the one sentence a user reads.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

DEFAULT_WORKER_PORT = 50052  # `ponder worker`'s (and llama.cpp rpc-server's) default
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")


def worker_address_problem(text: str) -> str | None:
    """Why ``text`` is not a worker's ``HOST:PORT`` (``None`` when it is one)."""
    text = text.strip()
    example = f"for example 192.168.1.20:{DEFAULT_WORKER_PORT}"
    host, sep, port = text.rpartition(":")
    if not text:
        return f"Type the worker's address as HOST:PORT, {example}."
    if not sep or not host or not _HOST.match(host):
        return f"“{text}” is not HOST:PORT: write the worker's address and port, {example}."
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"“{text}” has no valid port: the port is a number from 1 to 65535, {example}."
    return None


def server_url_problem(url: str) -> str | None:
    """Why ``url`` is not an OpenAI-compatible server's base address (``None`` when it is)."""
    url = url.strip()
    example = "for example http://127.0.0.1:8080 (llama-server) or https://api.deepseek.com"
    parts = urlsplit(url)
    if not url:
        return f"Type the server's address, {example}."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"“{url}” is not a server address: give its URL, {example}."
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError:
        return f"“{url}” has no valid port: the port is a number from 1 to 65535."
    return None
