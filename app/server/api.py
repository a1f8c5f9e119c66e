"""Ponder as an OpenAI-compatible server: `/v1/models` and `/v1/chat/completions`.

The thinking is kept apart from the answer, as DeepSeek's API does it: streamed as
``delta.reasoning_content`` then ``delta.content`` (``message.reasoning_content`` without
streaming), with ``usage.completion_tokens_details.reasoning_tokens``. Ponder's splitter
does the separation, so a template that prefills ``<think>`` never leaks a tag into
``content``. ``reasoning_content`` sent back in a request is ignored (never fed to the
model), as DeepSeek's API documents.

Ponder's own controls, beyond OpenAI's: ``think_budget`` (tokens of thinking before the
model is made to answer; ``reasoning_effort`` low/medium/high maps to 1,024/4,096/none)
and ``POST /v1/chat/completions/{id}/answer_now`` to end a running request's thinking.

Starlette (routing, requests, streaming responses, ASGI) served by uvicorn: a well-kept
ASGI stack with no HTTP parsing of ours. The engine is Ponder's own engine process,
shared with the app through the engine lease: one request at a time, the others queued
(a bounded queue: 429 when full, 503 when a request waited too long).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.core.errors import AppError
from app.core.events import AnswerDelta, Done, ErrorEvent, Event, GenerationStats, ReasoningDelta
from app.inference.client import EngineClient
from app.inference.lease import EngineBusyError, EngineLease, Holder
from app.inference.protocol import LoadSpec, ReplaySpec
from app.server.requests import ChatRequest, RequestError, parse_chat_request

MAX_BODY_BYTES = 4 * 2**20
WAIT_FOR_ENGINE_S = 300.0


@dataclass(frozen=True)
class ServedModel:
    """A model the server offers: its id (what clients send as ``model``) and file."""

    id: str
    path: str
    size_bytes: int = 0
    fit: str = ""  # this machine's verdict, as the app shows it


@dataclass
class ServerState:
    """What the routes share: the engine, the lease, the models, the key."""

    client: EngineClient
    lease: EngineLease
    models: Callable[[], list[ServedModel]]
    default_model: str | None = None
    api_key: str | None = None
    max_connections: int = 16
    active: int = 0
    running: dict[str, EngineClient] = field(default_factory=dict)


def openai_error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    """OpenAI's error shape: one clear sentence in ``message``."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def create_app(state: ServerState) -> Starlette:
    async def list_models(request: Request) -> Response:
        models = await asyncio.to_thread(state.models)
        data = [
            {
                "id": m.id,
                "object": "model",
                "created": 0,
                "owned_by": "ponder",
                "ponder": {"path": m.path, "size_bytes": m.size_bytes, "fit": m.fit},
            }
            for m in models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def chat(request: Request) -> Response:
        try:
            raw = await _read_body(request)
            body = json.loads(raw)
            parsed = parse_chat_request(body, state.default_model)
            spec = await asyncio.to_thread(_spec_for, state, parsed.model)
        except RequestError as exc:
            return openai_error(exc.status, exc.message, exc.kind, exc.code)
        except ValueError:
            return openai_error(400, "The request body is not valid JSON.", "invalid_request_error")
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        run = _Run(state, cid, parsed, spec)
        await run.start()
        if parsed.stream:
            return StreamingResponse(
                _sse(run, request),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        return await _complete(run, request)

    async def answer_now(request: Request) -> Response:
        cid = request.path_params["cid"]
        client = state.running.get(cid)
        if client is None:
            return openai_error(404, f"No running request {cid}.", "invalid_request_error")
        client.answer_now()
        return JSONResponse({"id": cid, "answer_now": True})

    async def health(request: Request) -> Response:
        holder = state.lease.holder
        engine = {
            "in_use_by": holder.describe() if holder is not None else None,
            "waiting": state.lease.waiting,
        }
        return JSONResponse({"status": "ok", "engine": engine})

    app = Starlette(
        routes=[
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/chat/completions/{cid}/answer_now", answer_now, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    return _Guard(app, state)  # type: ignore[return-value]


class _Guard:
    """Auth, body size and connection limits, before any route runs (plain ASGI)."""

    def __init__(self, app: Starlette, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        # /health says only that the server runs and whether its engine is in use: no key
        # needed (monitors, the app).
        refusal = None if scope.get("path") == "/health" else self._refusal(headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        self.state.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.active -= 1

    def _refusal(self, headers: dict[str, str]) -> Response | None:
        key = self.state.api_key
        if key:
            given = headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), key.encode()):
                return openai_error(
                    401,
                    "The API key is missing or wrong.",
                    "invalid_request_error",
                    "invalid_api_key",
                )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return openai_error(
                413,
                f"The request is {int(length):,} bytes; the limit is {MAX_BODY_BYTES:,}.",
                "invalid_request_error",
                "request_too_large",
            )
        if self.state.active >= self.state.max_connections:
            return openai_error(
                503,
                f"The server is handling {self.state.active} requests, its limit.",
                "server_error",
                "too_many_connections",
            )
        return None


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(
                413,
                f"The request is over {MAX_BODY_BYTES:,} bytes, the limit.",
                code="request_too_large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _spec_for(state: ServerState, model_id: str) -> LoadSpec | ReplaySpec:
    models = state.models()  # one scan of the disk per request, not two
    for m in models:
        if m.id == model_id:
            # A recorded reply (tests, demos) plays through the same engine pipeline.
            return ReplaySpec(m.path) if m.path.endswith(".jsonl") else LoadSpec(m.path)
    known = ", ".join(m.id for m in models) or "none"
    raise RequestError(
        404,
        f"There is no model {model_id!r} here (installed: {known}).",
        code="model_not_found",
    )


class _Run:
    """One request on the engine, in a thread that holds the lease; events cross to the
    event loop through a queue."""

    def __init__(
        self, state: ServerState, cid: str, req: ChatRequest, spec: LoadSpec | ReplaySpec
    ) -> None:
        self.state, self.cid, self.req, self.spec = state, cid, req, spec
        self.queue: asyncio.Queue[Event | AppError | None] = asyncio.Queue()
        self.created = int(time.time())
        self.stop = threading.Event()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def put(item: Event | AppError | None) -> None:
            loop.call_soon_threadsafe(self.queue.put_nowait, item)

        def work() -> None:
            state = self.state
            try:
                with state.lease.hold(
                    Holder("api", self.req.model),
                    timeout_s=WAIT_FOR_ENGINE_S,
                    abandoned=self.stop.is_set,  # a client gone while queued leaves the queue
                ):
                    if self.stop.is_set():
                        return
                    state.running[self.cid] = state.client
                    try:
                        for event in state.client.generate(
                            self.spec, self.req.messages, self.req.sampling
                        ):
                            put(event)
                            if self.stop.is_set():
                                state.client.cancel()
                    finally:
                        state.running.pop(self.cid, None)
            except AppError as exc:
                put(exc)
            finally:
                put(None)

        threading.Thread(target=work, name=f"api-{self.cid[-6:]}", daemon=True).start()

    def cancel(self) -> None:
        """The client went away: stop at once (the engine checks between tokens)."""
        self.stop.set()
        client = self.state.running.get(self.cid)
        if client is not None:
            client.cancel()

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.cid,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.req.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }


def _usage(stats: GenerationStats) -> dict[str, Any]:
    completion = stats.generated_tokens
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": stats.prompt_tokens + completion,
        "completion_tokens_details": {"reasoning_tokens": stats.reasoning_tokens},
    }


def _finish_reason(stats: GenerationStats) -> str:
    return "length" if stats.stop_reason == "length" else "stop"


def _error_for(exc: AppError | ErrorEvent) -> tuple[int, str, str]:
    kind = exc.kind
    message = f"{exc.message} {exc.hint}".strip()
    if isinstance(exc, EngineBusyError) or kind == "engine_busy":
        return 429 if "waiting" in exc.message else 503, message, "engine_busy"
    if kind == "context_overflow":
        return 400, message, "context_length_exceeded"
    if kind in ("too_large", "bad_model", "bad_input"):
        return 400, message, kind
    return 500, message, kind


async def _events(run: _Run, request: Request) -> AsyncIterator[Event | AppError]:
    """The run's events until it ends; a client that disconnects cancels it at once."""
    while True:
        try:
            item = await asyncio.wait_for(run.queue.get(), timeout=0.25)
        except TimeoutError:
            if await request.is_disconnected():
                run.cancel()
                return
            continue
        if item is None:
            return
        yield item


async def _sse(run: _Run, request: Request) -> AsyncIterator[str]:
    def line(obj: dict[str, Any]) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    first = True
    try:
        async for item in _events(run, request):
            if isinstance(item, AppError | ErrorEvent):
                _status, text, code = _error_for(item)
                yield line({"error": {"message": text, "type": "server_error", "code": code}})
                break
            if first and isinstance(item, ReasoningDelta | AnswerDelta | Done):
                yield line(run.chunk({"role": "assistant", "content": ""}))
                first = False
            if isinstance(item, ReasoningDelta):
                yield line(run.chunk({"reasoning_content": item.text}))
            elif isinstance(item, AnswerDelta):
                yield line(run.chunk({"content": item.text}))
            elif isinstance(item, Done):
                yield line(run.chunk({}, _finish_reason(item.stats)))
                if run.req.include_usage:
                    usage = {**run.chunk({}), "choices": [], "usage": _usage(item.stats)}
                    yield line(usage)
        yield "data: [DONE]\n\n"
    except asyncio.CancelledError:
        run.cancel()
        raise


async def _complete(run: _Run, request: Request) -> Response:
    reasoning, answer = [], []
    async for item in _events(run, request):
        if isinstance(item, AppError | ErrorEvent):
            status, text, code = _error_for(item)
            kind = "server_error" if status >= 500 else "invalid_request_error"
            return openai_error(status, text, kind, code)
        if isinstance(item, ReasoningDelta):
            reasoning.append(item.text)
        elif isinstance(item, AnswerDelta):
            answer.append(item.text)
        elif isinstance(item, Done):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(answer)}
            if reasoning:
                message["reasoning_content"] = "".join(reasoning)
            return JSONResponse(
                {
                    "id": run.cid,
                    "object": "chat.completion",
                    "created": run.created,
                    "model": run.req.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": _finish_reason(item.stats),
                        }
                    ],
                    "usage": _usage(item.stats),
                }
            )
    return openai_error(
        499, "The client went away; the request was cancelled.", "invalid_request_error"
    )
