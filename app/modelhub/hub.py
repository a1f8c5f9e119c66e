"""The Hugging Face Hub, as Ponder needs it: GGUF files with sizes and hashes, search,
remote headers read over HTTP Range, and every Hub failure turned into one clear sentence.

huggingface_hub does the talking (URLs, auth headers, metadata, error classification);
this module only chooses what to ask and translates the answers. The endpoint is
``endpoint`` when given, else ``HF_ENDPOINT`` read at call time (huggingface_hub reads it
once at import), else huggingface.co. A ``token`` of None lets huggingface_hub use the
machine's token (``HF_TOKEN`` or ``hf auth login``); tokens never appear in our messages.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi, ModelInfo, constants, get_session, hf_hub_url
from huggingface_hub import errors as hf_errors
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

from app.core.errors import (
    AppError,
    GatedModelError,
    HubError,
    HubNotFoundError,
    OfflineError,
)
from app.core.gguf import GGUFHeader, parse_header, shard_info

_HEADER_FIRST = 4 << 20  # most GGUF headers (tokenizer included) fit in a few MB
_HEADER_MAX = 256 << 20
_TIMEOUT_S = 30.0
_CONNECT_TIMEOUT_S = 10.0  # a Hub that takes longer to accept a connection is not there
LOGIN_HINT = (
    "Accept the licence on the model page and add a token (Settings or `ponder models login`)."
)
OFFLINE_HINT = "Check your connection; models already on disk still work."


@dataclass(frozen=True)
class RemoteFile:
    """One file of a Hub repo, with what the Hub says about it.

    Attributes:
        repo: ``owner/name``.
        filename: path inside the repo (may contain folders).
        size: bytes (0 when unknown: the downloader then asks the Hub).
        sha256: the LFS SHA-256 the bytes must hash to (None when the Hub gave none).
        revision: branch, tag or commit.
    """

    repo: str
    filename: str
    size: int
    sha256: str | None
    revision: str = "main"

    @property
    def name(self) -> str:
        """The file name without the repo's folders (what is installed on disk)."""
        return self.filename.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RepoHit:
    """A search result: a repo holding GGUF files."""

    repo: str
    downloads: int
    likes: int
    gated: bool
    last_modified: str | None


def resolve_endpoint(endpoint: str | None = None) -> str:
    """The Hub to talk to (see the module docstring), without a trailing slash."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def file_url(file: RemoteFile, endpoint: str | None = None) -> str:
    """The ``/resolve/`` URL of ``file`` on ``endpoint``."""
    return hf_hub_url(
        file.repo, file.filename, revision=file.revision, endpoint=resolve_endpoint(endpoint)
    )


def auth_headers(token: str | None) -> dict[str, str]:
    """Headers for a Hub request: user agent, and the token when there is one."""
    return build_hf_headers(token=token)


def group_models(files: list[RemoteFile]) -> list[list[RemoteFile]]:
    """Group a repo's GGUF files into models: a single file, or all shards of a split one
    (in shard order). Incomplete shard sets are left out: they cannot be loaded."""
    singles: list[list[RemoteFile]] = []
    shards: dict[tuple[str, int], dict[int, RemoteFile]] = {}
    for f in files:
        info = shard_info(f.filename)
        if info is None:
            singles.append([f])
        else:
            stem, index, count = info
            shards.setdefault((stem, count), {})[index] = f
    for (_, count), parts in shards.items():
        if len(parts) == count:
            singles.append([parts[i] for i in range(1, count + 1)])
    return sorted(singles, key=lambda group: group[0].filename)


def list_gguf_files(
    repo: str, *, revision: str = "main", token: str | None = None, endpoint: str | None = None
) -> list[RemoteFile]:
    """Every ``.gguf`` file in ``repo`` with its size and LFS SHA-256, sorted by name."""
    base = resolve_endpoint(endpoint)
    with hub_errors(base, repo=repo, revision=revision):
        info = HfApi(endpoint=base, token=token).model_info(
            repo, revision=revision, files_metadata=True, timeout=_TIMEOUT_S
        )
    files = []
    for s in info.siblings or []:
        if not s.rfilename.lower().endswith(".gguf"):
            continue
        size = s.lfs.size if s.lfs else (s.size or 0)
        sha = s.lfs.sha256 if s.lfs else None
        files.append(RemoteFile(repo, s.rfilename, size, sha, revision))
    return sorted(files, key=lambda f: f.filename)


def model_files(
    repo: str,
    filename: str,
    *,
    revision: str = "main",
    token: str | None = None,
    endpoint: str | None = None,
) -> list[RemoteFile]:
    """The files that make up the model ``filename`` names: the file itself, or every shard
    of a split model when ``filename`` is any one of them (shards in order)."""
    files = list_gguf_files(repo, revision=revision, token=token, endpoint=endpoint)
    for group in group_models(files):
        if any(f.filename == filename for f in group):
            return group
    if shard_info(filename) and any(f.filename == filename for f in files):
        raise HubNotFoundError(
            f"{repo} holds only some shards of {filename}.",
            "Pick another quantization; this one cannot be loaded.",
        )
    raise HubNotFoundError(
        f"{repo} has no GGUF file named {filename}.",
        "Check the name with `ponder models search`, or pick a file from the list.",
    )


def search_gguf(
    query: str, *, limit: int = 30, token: str | None = None, endpoint: str | None = None
) -> list[RepoHit]:
    """Hub repos with GGUF files matching ``query``, most downloaded first.

    One request, not retried: someone is waiting for the answer, so an offline machine gets
    its sentence at once. (``HfApi.list_models`` retries a refused connection five times
    over some 24 seconds and logs every retry to the terminal.)
    """
    base = resolve_endpoint(endpoint)
    params: dict[str, str | int] = {"filter": "gguf", "sort": "downloads", "limit": limit}
    if query:
        params["search"] = query
    with hub_errors(base):
        response = get_session().get(
            f"{base}/api/models",
            params=params,
            headers=auth_headers(token),
            timeout=httpx2.Timeout(_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S),
        )
        hf_raise_for_status(response)
    try:
        items = response.json()
        models = [ModelInfo(**{"siblings": None, **item}) for item in items[:limit]]
    except (ValueError, TypeError, KeyError) as exc:
        raise HubError(
            f"The Hugging Face Hub ({urlsplit(base).netloc or base}) sent a search answer "
            "Ponder cannot read.",
            "Check HF_ENDPOINT, or try again later.",
        ) from exc
    hits = [
        RepoHit(
            repo=m.id,
            downloads=m.downloads or 0,
            likes=m.likes or 0,
            gated=bool(m.gated),
            last_modified=m.last_modified.isoformat() if m.last_modified else None,
        )
        for m in models
    ]
    return sorted(hits, key=lambda h: -h.downloads)


def read_remote_header(
    file: RemoteFile,
    *,
    token: str | None = None,
    endpoint: str | None = None,
    first_bytes: int = _HEADER_FIRST,
) -> GGUFHeader:
    """Read and validate the GGUF header of a file on the Hub without downloading it.

    The first ``first_bytes`` come in one Range request; a longer header (a big tokenizer)
    grows the range by doubling, up to 256 MB. ``file.size`` must be known: the reader
    checks every count against the bytes that can exist.
    """
    base = resolve_endpoint(endpoint)
    url = file_url(file, base)
    headers = {**auth_headers(token), "Accept-Encoding": "identity"}
    buf = bytearray()

    def fetch(upto: int) -> None:
        start = len(buf)
        ranged = {**headers, "Range": f"bytes={start}-{upto - 1}"}
        with (
            hub_errors(base, repo=file.repo, revision=file.revision, filename=file.filename),
            get_session().stream("GET", url, headers=ranged, timeout=_TIMEOUT_S) as response,
        ):
            if response.status_code >= 400:
                response.read()
                hf_raise_for_status(response)
            # A server that ignores Range sends the whole file: skip what we have.
            skip = start if response.status_code == 200 else 0
            for raw in response.iter_raw(1 << 20):
                cut = min(skip, len(raw))
                skip -= cut
                buf.extend(raw[cut : cut + upto - len(buf)])
                if len(buf) >= upto:
                    break

    def read_at(offset: int, n: int) -> bytes:
        end = min(offset + n, file.size)
        if end > len(buf):
            want = min(max(end, 2 * len(buf), first_bytes), file.size)
            if want > _HEADER_MAX:
                raise HubError(
                    f"The header of {file.name} is larger than {_HEADER_MAX >> 20} MB.",
                    "Download the file to inspect it.",
                )
            fetch(want)
        return bytes(buf[offset:end])

    return parse_header(read_at, file.size, file.name)


def translate(
    exc: BaseException,
    endpoint: str,
    *,
    repo: str | None = None,
    revision: str | None = None,
    filename: str | None = None,
) -> AppError | None:
    """The AppError a user should see for a huggingface_hub or network error (None if the
    exception is none of those: a bug, left to propagate)."""
    host = urlsplit(endpoint).netloc or endpoint
    what = repo or "this repository"
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return OfflineError(
            "Hugging Face Hub access is switched off (HF_HUB_OFFLINE is set).",
            "Unset HF_HUB_OFFLINE to download; models already on disk still work.",
        )
    if isinstance(exc, hf_errors.GatedRepoError):
        status = exc.response.status_code if exc.response is not None else 401
        if status == 403:  # a token was accepted, but its account has no access yet
            return GatedModelError(
                f"{what} is a gated model and the token's account has no access to it yet.",
                "Accept the licence on the model page with the account the token belongs "
                "to, or add that account's token (Settings or `ponder models login`).",
            )
        return GatedModelError(f"{what} is a gated model and needs a token.", LOGIN_HINT)
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return HubNotFoundError(
            f"{what} has no revision {revision or ''}".rstrip() + ".",
            "Use main, or an existing branch, tag or commit.",
        )
    if isinstance(exc, hf_errors.EntryNotFoundError | hf_errors.RemoteEntryNotFoundError):
        return HubNotFoundError(
            f"{what} has no file {filename or ''}".rstrip() + ".",
            "Check the file name with `ponder models search`.",
        )
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return HubNotFoundError(
            f"The Hub has no model {what}, or it is private.",
            "Check the name; for a private model add a token (Settings or `ponder models login`).",
        )
    if isinstance(exc, hf_errors.HfHubHTTPError) and exc.response is not None:
        return http_status_error(exc.response.status_code, host, what)
    if isinstance(exc, httpx2.TimeoutException):
        return OfflineError(f"The Hugging Face Hub ({host}) did not answer in time.", OFFLINE_HINT)
    if isinstance(exc, httpx2.TransportError | ConnectionError):
        return OfflineError(f"Cannot reach the Hugging Face Hub ({host}).", OFFLINE_HINT)
    return None


def http_status_error(status: int, host: str, what: str) -> AppError:
    """One sentence for an HTTP status the Hub answered with."""
    if status == 401:
        return GatedModelError(
            f"The Hub refused access to {what} (401): it needs a valid token.", LOGIN_HINT
        )
    if status == 403:
        return GatedModelError(
            f"The Hub refused access to {what} (403): the token may not read it.", LOGIN_HINT
        )
    if status == 429:
        return HubError(
            "The Hugging Face Hub is limiting requests (429).", "Wait a few minutes and retry."
        )
    if status >= 500:
        return HubError(
            f"The Hugging Face Hub ({host}) had a server error ({status}).",
            "Try again in a few minutes.",
        )
    return HubError(f"The Hugging Face Hub answered {status} for {what}.", "Try again later.")


@contextlib.contextmanager
def hub_errors(
    endpoint: str,
    *,
    repo: str | None = None,
    revision: str | None = None,
    filename: str | None = None,
) -> Iterator[None]:
    """Re-raise Hub and network failures inside the block as AppErrors (see ``translate``)."""
    try:
        yield
    except (hf_errors.HfHubHTTPError, hf_errors.OfflineModeIsEnabled, httpx2.HTTPError) as exc:
        err = translate(exc, endpoint, repo=repo, revision=revision, filename=filename)
        if err is None:
            raise
        raise err from exc
    except ConnectionError as exc:
        err = translate(exc, endpoint, repo=repo, revision=revision, filename=filename)
        assert err is not None
        raise err from exc
