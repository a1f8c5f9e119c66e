"""A Hugging Face Hub look-alike on loopback, for the real huggingface_hub client.

It answers what ``HfApi.model_info(files_metadata=True)``, ``HfApi.list_models``,
``get_hf_file_metadata`` (HEAD) and a ranged GET of ``/{repo}/resolve/{rev}/{file}`` read,
with the headers huggingface_hub 2.x parses (``X-Repo-Commit``, ``X-Linked-Etag``,
``X-Linked-Size``, ``ETag``, ``Content-Range``, ``X-Error-Code``). Faults a real network
has are injected on request: dropped connections, 5xx/429 bursts, a corrupted byte, a
stalled stream, a server that ignores ``Range``, gated repos. Every request is logged so
tests can assert what a client asked for (e.g. only the remaining range after a restart).

It binds 127.0.0.1 only: nothing here ever talks to the real Hub.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_API_MODEL = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?$")
_CHUNK = 256 * 1024


@dataclass
class HubFile:
    """One file of a repo: its bytes (in memory, or a file on disk streamed on demand)."""

    name: str
    source: bytes | Path
    size: int
    sha256: str

    def open_range(self, start: int) -> Any:
        if isinstance(self.source, bytes):
            import io

            f: Any = io.BytesIO(self.source)
        else:
            f = self.source.open("rb")
        f.seek(start)
        return f


@dataclass
class Faults:
    """What goes wrong on the next file GETs (HEAD and API calls are never faulted).

    Attributes:
        fail_first: answer this many GETs with ``fail_status`` before serving normally.
        fail_status: the status of those failures (500, 503, 429 ...).
        retry_after: a ``Retry-After`` value sent with the failures.
        drop_after: close the connection after this many body bytes, ``drop_times`` times.
        corrupt_at: flip the byte at this file offset in every GET that covers it.
        stall_after: stop sending after this many body bytes, for ``stall_s`` seconds,
            ``stall_times`` times (the connection stays open, silent).
        ignore_range: answer ranged GETs with 200 and the whole file.
        etag: label files with this ETag instead of their SHA-256 (a mirror's own labels).
        shift_range: answer this many ranged GETs with the range one byte later (and its
            bytes), as a misbehaving proxy might.
        rate: throttle the body to this many bytes per second.
    """

    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    drop_after: int | None = None
    drop_times: int = 1
    corrupt_at: int | None = None
    stall_after: int | None = None
    stall_s: float = 60.0
    stall_times: int = 1
    ignore_range: bool = False
    shift_range: int = 0
    etag: str | None = None
    rate: float | None = None


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    range: str | None
    status: int
    authorization: bool


@dataclass
class _Repo:
    files: dict[str, HubFile] = field(default_factory=dict)
    gated_tokens: set[str] | None = None  # None: not gated; else the tokens let in
    downloads: int = 0
    likes: int = 0


class HubServer:
    """Run with ``with HubServer() as hub:``; point clients at ``hub.endpoint``."""

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.faults = Faults()
        self.log: list[Logged] = []
        self.stalls = threading.Event()  # set whenever a stream has stalled
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # Content -------------------------------------------------------------------------

    def add_file(
        self, repo: str, name: str, source: bytes | Path, sha256: str | None = None
    ) -> HubFile:
        """Publish ``source`` as ``repo/name`` (its SHA-256 is computed unless given)."""
        if isinstance(source, bytes):
            size = len(source)
            digest = sha256 or hashlib.sha256(source).hexdigest()
        else:
            size = source.stat().st_size
            digest = sha256 or _file_sha256(source)
        hub_file = HubFile(name, source, size, digest)
        self.repos.setdefault(repo, _Repo()).files[name] = hub_file
        return hub_file

    def gate(self, repo: str, *tokens: str) -> None:
        """Make ``repo`` gated: only requests bearing one of ``tokens`` get in."""
        self.repos.setdefault(repo, _Repo()).gated_tokens = set(tokens)

    def file_gets(self, name: str | None = None) -> list[Logged]:
        """The GETs of file content (``/resolve/``), optionally of one file only."""
        with self._lock:
            return [
                r
                for r in self.log
                if r.method == "GET"
                and "/resolve/" in r.path
                and (name is None or r.path.endswith("/" + name))
            ]

    def _record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    def _take_fault(self, attr: str, count_attr: str) -> bool:
        """Consume one use of a counted fault; True when it applies to this request."""
        with self._lock:
            if getattr(self.faults, attr) is None or getattr(self.faults, count_attr) <= 0:
                return False
            setattr(self.faults, count_attr, getattr(self.faults, count_attr) - 1)
            return True

    def _take_failure(self) -> bool:
        with self._lock:
            if self.faults.fail_first <= 0:
                return False
            self.faults.fail_first -= 1
            return True


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-body (paused, killed, watchdog) are not server faults."""


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        server_hub = hub

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_hub: HubServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the hub keeps its own request log."""

    # Routing ---------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, *, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        if m := _RESOLVE.match(path):
            self._resolve(m.group(1), m.group(2), m.group(3), head=head)
        elif m := _API_MODEL.match(path):
            self._model_info(m.group(1), m.group(2) or "main")
        elif path == "/api/models":
            self._list_models(parse_qs(url.query))
        else:
            self._error(404, "RepoNotFound", "Not found.")

    # Helpers ---------------------------------------------------------------------------

    def _log(self, status: int) -> None:
        self.server_hub._record(
            Logged(
                self.command,
                unquote(urlsplit(self.path).path),
                self.headers.get("Range"),
                status,
                self.headers.get("Authorization") is not None,
            )
        )

    def _json(self, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str | None, message: str, **headers: str) -> None:
        body = json.dumps({"error": message}).encode()
        self._log(status)
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)) if self.command != "HEAD" else "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _repo(self, repo_id: str) -> _Repo | None:
        repo = self.server_hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        if repo.gated_tokens is not None:
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip()
            if not token:
                self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted.")
                return None
            if token not in repo.gated_tokens:
                self._error(
                    403, "GatedRepo", f"Access to model {repo_id} is restricted to accepted users."
                )
                return None
        return repo

    # Endpoints -------------------------------------------------------------------------

    def _model_info(self, repo_id: str, revision: str) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return
        if revision not in ("main", COMMIT):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        payload = _model_summary(repo_id, repo)
        payload["siblings"] = [
            {
                "rfilename": f.name,
                "size": f.size,
                "blobId": hashlib.sha1(f.sha256.encode()).hexdigest(),
                "lfs": {"size": f.size, "sha256": f.sha256, "pointerSize": 134},
            }
            for f in repo.files.values()
        ]
        self._json(payload)

    def _list_models(self, query: dict[str, list[str]]) -> None:
        search = query.get("search", [""])[0].lower()
        filters = query.get("filter", [])
        limit = int(query.get("limit", ["1000"])[0])
        hits = [
            _model_summary(repo_id, repo)
            for repo_id, repo in sorted(self.server_hub.repos.items())
            if search in repo_id.lower()
            and ("gguf" not in filters or any(n.endswith(".gguf") for n in repo.files))
        ]
        self._json(hits[:limit])

    def _resolve(self, repo_id: str, revision: str, name: str, *, head: bool) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return
        if revision not in ("main", COMMIT):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        hub_file = repo.files.get(name)
        if hub_file is None:
            self._error(404, "EntryNotFound", f"{name} does not exist on {revision}")
            return
        hub = self.server_hub
        if not head and hub._take_failure():
            extra = {"Retry_After": hub.faults.retry_after} if hub.faults.retry_after else {}
            self._error(hub.faults.fail_status, None, "Service unavailable", **extra)
            return
        start, end = 0, hub_file.size - 1
        ranged = False
        if (requested := self.headers.get("Range")) and not hub.faults.ignore_range:
            m = _RANGE.match(requested.strip())
            if m is None or int(m.group(1)) >= hub_file.size:
                self._error(416, None, "Range not satisfiable")
                return
            start = int(m.group(1))
            end = min(int(m.group(2)), end) if m.group(2) else end
            ranged = True
            with hub._lock:
                if hub.faults.shift_range > 0 and start + 1 <= end:
                    hub.faults.shift_range -= 1
                    start += 1
        status = 206 if ranged else 200
        self._log(status)
        self.send_response(status)
        self.send_header("X-Repo-Commit", COMMIT)
        etag = hub.faults.etag or hub_file.sha256
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Linked-Etag", f'"{etag}"')
        self.send_header("X-Linked-Size", str(hub_file.size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{hub_file.size}")
        self.end_headers()
        if not head:
            self._send_body(hub_file, start, end + 1)

    def _send_body(self, hub_file: HubFile, start: int, stop: int) -> None:
        hub = self.server_hub
        faults = hub.faults
        drop = hub._take_fault("drop_after", "drop_times")
        stall = hub._take_fault("stall_after", "stall_times")
        plain = not (drop or stall) and faults.corrupt_at is None and faults.rate is None
        with hub_file.open_range(start) as f:
            if plain and not isinstance(hub_file.source, bytes):
                self.wfile.flush()
                self.connection.sendfile(f, start, stop - start)
                return
            sent = 0
            began = time.monotonic()
            pos = start
            if stall and faults.stall_after == 0:  # headers, then silence from the first byte
                self.wfile.flush()
                hub.stalls.set()
                if hub._closing.wait(faults.stall_s):
                    return
                stall = False
            while pos < stop:
                n = min(_CHUNK, stop - pos)
                if drop and faults.drop_after is not None:
                    n = min(n, faults.drop_after - sent)
                if stall and faults.stall_after is not None and sent < faults.stall_after:
                    n = min(n, faults.stall_after - sent)
                chunk = f.read(n) if n > 0 else b""
                if faults.corrupt_at is not None and pos <= faults.corrupt_at < pos + len(chunk):
                    i = faults.corrupt_at - pos
                    chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1 :]
                if chunk:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    pos += len(chunk)
                if drop and faults.drop_after is not None and sent >= faults.drop_after:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if stall and faults.stall_after is not None and sent == faults.stall_after:
                    self.wfile.flush()
                    hub.stalls.set()
                    if hub._closing.wait(faults.stall_s):
                        return
                    stall = False
                if faults.rate:
                    ahead = sent / faults.rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)


def _model_summary(repo_id: str, repo: _Repo) -> dict[str, Any]:
    return {
        "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
        "id": repo_id,
        "modelId": repo_id,
        "author": repo_id.split("/", maxsplit=1)[0],
        "sha": COMMIT,
        "lastModified": "2025-05-29T12:00:00.000Z",
        "private": False,
        "gated": "manual" if repo.gated_tokens is not None else False,
        "disabled": False,
        "downloads": repo.downloads,
        "likes": repo.likes,
        "tags": ["gguf"],
        "library_name": "gguf",
    }


def main(argv: list[str] | None = None) -> int:
    """Serve files in a process of their own (benchmarks: a server sharing the client's
    GIL would slow the client). Usage: ``python -m tests.integration.hub_server REPO
    FILE...``; prints the endpoint, then serves until stdin closes."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    repo, paths = args[0], [Path(p) for p in args[1:]]
    with HubServer() as hub:
        for path in paths:
            hub.add_file(repo, path.name, path)
        print(hub.endpoint, flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
