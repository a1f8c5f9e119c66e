"""An OpenAI-compatible server as the engine: llama-server, vLLM, SGLang, Ollama, exo,
LM Studio, DeepSeek's API.

Runs in the engine process like the llama.cpp backend, so a remote that misbehaves is
isolated the same way and the conversation never notices. The reply streams as chat
completions (SSE). Reasoning arrives either apart (``delta.reasoning_content``, as
DeepSeek's API and llama-server with ``--reasoning-format deepseek`` send it) or inline as
``<think>...</think>`` in ``content``: both go through the same ``ReplyAssembler`` as a
local model's text, so the thinking panel, stops and stats behave alike.

llama.cpp's server (recognised by its ``/props``) also takes a think budget
(``thinking_budget_tokens``) and ends the reasoning of a running reply on request
(``reasoning_control`` + ``POST /v1/chat/completions/control``): Answer now. Other servers
get plain OpenAI requests; there, Answer now is a no-op and the reply says so in its stats.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx2

from app.core.errors import BadInputError, EngineError
from app.core.events import Done, Event, StopReason
from app.inference.backends.base import Control, Emit
from app.inference.protocol import EndpointSpec, GenerateRequest
from app.inference.reply import ReplyAssembler

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
# A server silent this long mid-reply is given up on (the heartbeat tells the user long
# before; a big model's first token on a busy server may take a while).
READ_TIMEOUT_S = 600.0
OPEN_TAG, CLOSE_TAG = "<think>", "</think>"


class EndpointError(EngineError):
    """The server refused, failed, or could not be reached."""

    kind = "endpoint_error"


class EndpointBackend:
    """Chat completions from one server; nothing is loaded here."""

    def __init__(self, spec: EndpointSpec) -> None:
        self.spec = spec
        self.url = spec.url.rstrip("/")
        if self.url.endswith("/v1"):
            self.url = self.url[: -len("/v1")]
        headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
        self.http = httpx2.Client(
            headers=headers,
            timeout=httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )
        self.load_s = 0.0
        self._chunks = 0
        self.llama_server = self._is_llama_server()
        self.model = spec.model or self._first_model()

    def progress(self) -> int:
        return self._chunks

    def close(self) -> None:
        self.http.close()

    # -- discovery ---------------------------------------------------------------------

    def _is_llama_server(self) -> bool:
        """llama.cpp's server answers /props with its build; others 404 or differ."""
        try:
            r = self.http.get(f"{self.url}/props", timeout=CONNECT_TIMEOUT_S)
            return r.status_code == 200 and "build_info" in r.text
        except httpx2.HTTPError:
            return False

    def _first_model(self) -> str:
        try:
            r = self.http.get(f"{self.url}/v1/models", timeout=CONNECT_TIMEOUT_S)
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        self._check_status(r)
        try:
            data = r.json().get("data") or []
            return str(data[0]["id"]) if data else ""
        except (ValueError, KeyError, TypeError, AttributeError):
            return ""

    # -- one reply ---------------------------------------------------------------------

    def generate(self, request: GenerateRequest, control: Control, emit: Emit) -> None:
        if request.samples > 1:
            raise BadInputError(
                "Think N ways samples a local model (it decodes the answers together).",
                "Use a model on this computer for a group, or ask for one answer.",
            )
        sp = request.sampling
        extra: dict[str, Any] = {"backend": self.spec.label or "endpoint", "model": self.model}
        server: dict[str, Any] = {}

        def emit_done(event: Event) -> None:
            if isinstance(event, Done):  # the server's own counts and rates, where it sent them
                event = Done(_with_server_figures(event.stats, server))
            emit(event)

        asm = ReplyAssembler(
            emit_done,
            prompt_opened=False,
            stops=sp.stop,
            think_budget=None if self.llama_server else sp.think_budget,
        )
        asm.start_prefill(0, 0)
        body = self._body(request)
        state = _Route()
        stop: StopReason = "eos"
        # A raw prompt (benchmarks, comparisons with the local engine) bypasses the chat
        # template: plain completions, which OpenAI-compatible servers also offer.
        path = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
        with self._stream(path, body) as chunks:
            for chunk in chunks:
                if control.cancelled():
                    stop = "stopped"
                    break
                self._chunks += 1
                if state.cmpl_id is None:
                    state.cmpl_id = chunk.get("id")
                if control.answer_now() and not state.asked_answer_now and asm.in_reasoning:
                    state.asked_answer_now = True
                    self._answer_now(state.cmpl_id)
                server.update({k: chunk[k] for k in ("usage", "timings") if chunk.get(k)})
                for choice in chunk.get("choices") or []:
                    # Chat streams send deltas; plain completions send the text itself.
                    pieces = state.route(choice.get("delta") or {"text": choice.get("text")})
                    if pieces and not state.started:
                        asm.end_prefill()  # the first text: the prompt has been read
                        state.started = True
                    if any(asm.add_token(text, counted) for text, counted in pieces):
                        state.stopped_by_string = True
                    if choice.get("finish_reason") == "length":
                        stop = "length"
                if state.stopped_by_string:
                    break
        if state.in_reasoning:
            asm.add_token(CLOSE_TAG, counted=False)
        if stop == "length":
            extra["limit"] = "max_tokens"
        asm.finish(stop, **extra)

    def _body(self, request: GenerateRequest) -> dict[str, Any]:
        sp = request.sampling
        body: dict[str, Any] = {"model": self.model}
        if request.raw_prompt is not None:
            body["prompt"] = request.raw_prompt
        else:
            body["messages"] = request.messages
        body |= {
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": sp.max_tokens,
            "temperature": sp.temperature,
            "top_p": sp.top_p,
        }
        if sp.seed is not None:
            body["seed"] = sp.seed
        if sp.stop:
            body["stop"] = list(sp.stop)
        if self.llama_server:
            # llama.cpp's own controls: a think budget, and ending the reasoning mid-reply.
            body["reasoning_control"] = True
            body["top_k"] = sp.top_k
            body["min_p"] = sp.min_p
            if sp.think_budget is not None:
                body["thinking_budget_tokens"] = sp.think_budget
            if sp.ignore_eos:
                body["ignore_eos"] = True
        return body

    @contextlib.contextmanager
    def _stream(self, path: str, body: dict[str, Any]) -> Iterator[Iterator[dict[str, Any]]]:
        url = f"{self.url}{path}"
        try:
            with self.http.stream("POST", url, json=body) as response:
                if response.status_code != 200:
                    response.read()
                    self._check_status(response)
                yield _events(response)
        except httpx2.TimeoutException:
            raise EndpointError(
                f"The server at {self.url} sent nothing for {READ_TIMEOUT_S:.0f} s.",
                "It may be overloaded or stuck; what it wrote is kept. Try again later.",
            ) from None
        except (httpx2.RemoteProtocolError, httpx2.ReadError) as exc:
            raise EndpointError(
                f"The connection to {self.url} broke mid-reply ({type(exc).__name__}).",
                "What it wrote so far is kept; send again when the server is back.",
            ) from None
        except httpx2.ConnectError as exc:
            raise self._unreachable(exc) from None

    def _answer_now(self, cmpl_id: str | None) -> None:
        if not self.llama_server or not cmpl_id:
            log.info("this server cannot end a reply's reasoning; Answer now does nothing")
            return
        try:
            self.http.post(
                f"{self.url}/v1/chat/completions/control",
                json={"id": cmpl_id, "action": "reasoning_end"},
                timeout=CONNECT_TIMEOUT_S,
            )
        except httpx2.HTTPError as exc:
            log.warning("answer now was not delivered: %s", exc)

    # -- errors -----------------------------------------------------------------------

    def _unreachable(self, exc: Exception) -> EndpointError:
        reason = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
        return EndpointError(
            f"Cannot reach the server at {self.url} ({reason}).",
            "Check that it is running and the address is right.",
        )

    def _check_status(self, response: httpx2.Response) -> None:
        code = response.status_code
        if code < 400:
            return
        said = _error_text(response)
        if code in (401, 403):
            raise EndpointError(
                f"The server at {self.url} refused the API key ({code}).",
                "Check the key (the environment variable named by --api-key-env).",
            )
        if code == 429:
            raise EndpointError(
                f"The server at {self.url} is busy or rate-limited (429).",
                "Wait a moment and send again.",
            )
        if code == 404:
            raise EndpointError(
                f"The server at {self.url} has no OpenAI chat endpoint (404).",
                "Give the server's base address (the part before /v1).",
            )
        raise EndpointError(
            f"The server at {self.url} failed ({code}{': ' + said if said else ''}).",
            "Try again; if it repeats, check the server's log.",
        )


@dataclasses.dataclass
class _Route:
    """Turns deltas into raw model text for the assembler (reasoning wrapped in tags)."""

    in_reasoning: bool = False
    started: bool = False
    cmpl_id: str | None = None
    asked_answer_now: bool = False
    stopped_by_string: bool = False

    def route(self, delta: dict[str, Any]) -> list[tuple[str, bool]]:
        """(text, counted) pieces: server-split reasoning is re-tagged so one splitter
        handles both shapes; the tags themselves are not tokens."""
        out: list[tuple[str, bool]] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        content = delta.get("content") or delta.get("text") or ""
        if reasoning:
            if not self.in_reasoning:
                out.append((OPEN_TAG, False))
                self.in_reasoning = True
            out.append((reasoning, True))
        if content:
            if self.in_reasoning:
                out.append((CLOSE_TAG, False))
                self.in_reasoning = False
            out.append((content, True))
        return out


def _events(response: httpx2.Response) -> Iterator[dict[str, Any]]:
    """The JSON objects of an SSE stream, until ``[DONE]``. A stream that ends without
    ``[DONE]`` or a ``finish_reason`` was cut (the connection closed mid-reply)."""
    finished = False
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            obj = json.loads(data)
        except ValueError:
            continue
        if isinstance(obj, dict):
            if obj.get("error"):
                raise EndpointError(
                    f"The server stopped the reply: {_message(obj['error'])}.",
                    "What it wrote so far is kept.",
                )
            finished = finished or any(
                isinstance(c, dict) and c.get("finish_reason") for c in obj.get("choices") or []
            )
            yield obj
    if not finished:
        raise httpx2.RemoteProtocolError("the stream ended before the reply did")


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)[:200]
    return str(error)[:200]


def _error_text(response: httpx2.Response) -> str:
    try:
        return _message(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return response.text[:200].strip()


def _with_server_figures(stats: Any, server: dict[str, Any]) -> Any:
    """Prefer the server's counts (``usage``) and rates (llama-server's ``timings``)."""
    changes: dict[str, Any] = {}
    usage = server.get("usage") or {}
    timings = server.get("timings") or {}
    if isinstance(usage.get("prompt_tokens"), int):
        changes["prompt_tokens"] = usage["prompt_tokens"]
    if isinstance(timings.get("prompt_n"), int):
        changes["prompt_eval_tokens"] = timings["prompt_n"]
    elif "prompt_tokens" in changes:
        changes["prompt_eval_tokens"] = changes["prompt_tokens"]
    if isinstance(timings.get("predicted_per_second"), int | float):
        changes["decode_tok_s"] = round(float(timings["predicted_per_second"]), 2)
    if isinstance(timings.get("prompt_per_second"), int | float):
        changes["prefill_tok_s"] = round(float(timings["prompt_per_second"]), 2)
    return dataclasses.replace(stats, **changes) if changes else stats


def wait_until_ready(url: str, timeout_s: float, alive: Any = None) -> None:
    """Wait for a llama-server to answer /health with 200 (it loads the model first)."""
    deadline = time.monotonic() + timeout_s
    with httpx2.Client(timeout=CONNECT_TIMEOUT_S) as http:
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise EndpointError(
                    "llama-server stopped while loading the model.",
                    "The engine log has its last words.",
                )
            try:
                if http.get(f"{url}/health").status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.25)
    raise EndpointError(
        f"llama-server did not become ready within {timeout_s:.0f} s.",
        "The engine log has its output.",
    )
