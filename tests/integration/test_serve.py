"""`ponder serve` through the official `openai` client: the real server process on loopback,
the real engine, the real 270M, and recorded R1-style streams (replay) where a reply must
think (the 270M is a base model that does not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from tests.gguf_split import giant_gguf
from tests.integration.cli import ROOT, ponder
from tests.integration.test_models_cli import FILE_KEYRING, KEYRING_FILE
from tests.loopback import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

THOUGHT = "The user wants 6 times 7. Six sevens are forty-two."
ANSWER = "The answer is **42**."


def text_of(done: ChatCompletion) -> str:
    """The reply's text (the client types it optional; every reply here has one)."""
    content = done.choices[0].message.content
    assert content is not None
    return content


def usage_of(done: ChatCompletion) -> CompletionUsage:
    assert done.usage is not None
    return done.usage


def extra(item: BaseModel) -> dict[str, Any]:
    """The fields the OpenAI types do not know (``reasoning_content``, ``ponder``)."""
    assert item.model_extra is not None
    return item.model_extra


def write_replay(path: Path, pace: float | None = None, repeat: int = 1) -> Path:
    lines: list[dict[str, Any]] = [
        {
            "prompt": "<｜User｜>x<｜Assistant｜><think>\n",
            **({"tokens_per_s": pace} if pace else {}),
        }
    ]
    lines += [{"chunk": w + " "} for w in (THOUGHT + " ").split() * repeat]
    lines += [{"chunk": "\n</think>\n\n"}] + [{"chunk": w + " "} for w in ANSWER.split()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


class Server:
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.clients: list[openai.OpenAI] = []
        self.log = Path(os.environ["PONDER_HOME"]) / f"serve-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--port", str(self.port), *args],
                cwd=ROOT,
                env=env or dict(os.environ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx2.get(f"{self.base}/../health", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError(f"ponder serve did not start:\n{self.log.read_text()}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, key: str = "none", timeout: float = 120) -> openai.OpenAI:
        made = openai.OpenAI(base_url=self.base, api_key=key, timeout=timeout, max_retries=0)
        self.clients.append(made)
        return made

    def stop(self) -> None:
        for made in self.clients:
            made.close()
        self.proc.terminate()
        self.proc.wait(timeout=15)


@pytest.fixture
def replay_server(tmp_path: Path, ponder_home: Path) -> Iterator[Server]:
    server = Server("-m", str(write_replay(tmp_path / "r1.jsonl")))
    yield server
    server.stop()


def test_reasoning_and_answer_come_apart_streaming_and_not(
    replay_server: Server, tmp_path: Path
) -> None:
    client = replay_server.client()
    done = client.chat.completions.create(
        model="r1", messages=[{"role": "user", "content": "What is 6*7?"}]
    )
    content = text_of(done)
    assert content.strip() == ANSWER
    assert extra(done.choices[0].message)["reasoning_content"].strip() == THOUGHT
    assert "<think>" not in content and "</think>" not in content

    reasoning, content, usage = "", "", None
    stream = client.chat.completions.create(
        model="r1",
        messages=[{"role": "user", "content": "What is 6*7?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            content += choice.delta.content or ""
    assert reasoning.strip() == THOUGHT and content.strip() == ANSWER
    # The same counts as Ponder's own stats for the same stream.
    own = ponder("chat", "--replay", str(tmp_path / "r1.jsonl"), "-p", "x", "--json")
    stats = own.events[-1]["stats"]
    assert usage is not None
    assert usage.completion_tokens == stats["reasoning_tokens"] + stats["answer_tokens"]
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == stats["reasoning_tokens"]
    assert usage_of(done).completion_tokens == usage.completion_tokens


def test_reasoning_sent_back_is_not_fed_to_the_model(replay_server: Server) -> None:
    """DeepSeek's rule: an assistant turn's reasoning_content in a request is ignored."""
    client = replay_server.client()
    done = client.chat.completions.create(
        model="r1",
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello.", "reasoning_content": "secret plan"},  # type: ignore[list-item]
            {"role": "user", "content": "And?"},
        ],
    )
    assert text_of(done).strip() == ANSWER


def test_the_real_270m_answers_through_the_openai_client(
    gemma_path: Path, ponder_home: Path
) -> None:
    server = Server("-m", str(gemma_path))
    try:
        client = server.client()
        listed = client.models.list().data
        assert [m.id for m in listed] == ["gemma-3-270m-q4_k_m"]
        assert (
            "CPU only" in extra(listed[0])["ponder"]["fit"]
            or "GPU" in extra(listed[0])["ponder"]["fit"]
        )
        done = client.chat.completions.create(
            model="gemma-3-270m-q4_k_m",
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=12,
            temperature=0,
            seed=1,
        )
        assert text_of(done)
        assert 0 < usage_of(done).completion_tokens <= 12
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="gemma-3-270m-q4_k_m",
                messages=[{"role": "user", "content": "Say hello."}],
                max_tokens=12,
                temperature=0,
                seed=1,
                stream=True,
            )
            if c.choices
        )
        assert streamed == done.choices[0].message.content
        with pytest.raises(openai.BadRequestError) as overflow:
            client.chat.completions.create(
                model="gemma-3-270m-q4_k_m",
                messages=[{"role": "user", "content": "word " * 20000}],
                max_tokens=4,
            )
        assert overflow.value.code == "context_length_exceeded"
        assert "is 20,0" in str(overflow.value) and "but the context holds 16,384" in str(
            overflow.value
        )
    finally:
        server.stop()


def test_a_client_that_disconnects_cancels_its_request(tmp_path: Path, ponder_home: Path) -> None:
    slow = write_replay(tmp_path / "slow.jsonl", pace=20, repeat=200)  # ~100 s if not cancelled
    server = Server("-m", str(slow))
    try:
        stream = server.client().chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "x"}], stream=True
        )
        for i, _chunk in enumerate(stream):
            if i == 5:
                break
        stream.close()
        # The engine is free again: another request is served (not stuck behind 100 s).
        quick = server.client(timeout=30).chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "x"}], max_tokens=3
        )
        assert quick.choices[0].finish_reason == "length"
    finally:
        server.stop()


def test_two_clients_at_once_are_served_in_turn_without_mixing(
    tmp_path: Path, ponder_home: Path
) -> None:
    paced = write_replay(tmp_path / "paced.jsonl", pace=200)
    server = Server("-m", str(paced))
    results: dict[int, tuple[float, float, str]] = {}

    def ask(i: int) -> None:
        text, first, last = "", 0.0, 0.0
        for chunk in server.client().chat.completions.create(
            model="paced", messages=[{"role": "user", "content": f"client {i}"}], stream=True
        ):
            for choice in chunk.choices:
                piece = choice.delta.content or ""
                if piece:
                    first = first or time.monotonic()
                    last = time.monotonic()
                text += piece
        results[i] = (first, last, text)

    try:
        threads = [threading.Thread(target=ask, args=(i,)) for i in (1, 2)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join(timeout=120)
    finally:
        server.stop()
    assert sorted(results) == [1, 2]
    assert all(text.strip() == ANSWER for _, _, text in results.values())  # nothing mixed in
    (_, a_last, _), (b_first, _, _) = sorted(results.values())
    assert a_last <= b_first  # one after the other


def test_errors_are_one_sentence_in_openais_shape(replay_server: Server) -> None:
    client = replay_server.client()
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "There is no model 'nope' here" in str(unknown.value)
    bad = httpx2.post(f"{replay_server.base}/chat/completions", content=b"{not json")
    assert (
        bad.status_code == 400
        and bad.json()["error"]["message"] == "The request body is not valid JSON."
    )
    huge = httpx2.post(
        f"{replay_server.base}/chat/completions",
        content=b"x" * (5 * 2**20),
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and "the limit is" in huge.json()["error"]["message"]
    empty = httpx2.post(
        f"{replay_server.base}/chat/completions", json={"model": "r1", "messages": []}
    )
    assert (
        empty.status_code == 400
        and empty.json()["error"]["message"] == "messages must be a non-empty list."
    )


def test_too_many_connections_get_503(tmp_path: Path, ponder_home: Path) -> None:
    slow = write_replay(tmp_path / "slow.jsonl", pace=20, repeat=50)
    server = Server("-m", str(slow), "--max-connections", "1")
    try:
        stream = server.client().chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "x"}], stream=True
        )
        next(iter(stream))
        with pytest.raises(openai.InternalServerError) as refused:
            server.client().chat.completions.create(
                model="slow", messages=[{"role": "user", "content": "x"}]
            )
        assert refused.value.code == "too_many_connections"
        stream.close()
    finally:
        server.stop()


def test_off_loopback_needs_a_key_and_a_wrong_key_is_refused(
    tmp_path: Path, ponder_home: Path
) -> None:
    refused = ponder("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.code == 2
    assert "needs an API key" in refused.stderr and "Traceback" not in refused.stderr
    env = dict(os.environ, PONDER_API_KEY="right-key")
    server = Server("-m", str(write_replay(tmp_path / "k.jsonl")), env=env)
    try:
        with pytest.raises(openai.AuthenticationError) as wrong:
            server.client("wrong-key").chat.completions.create(
                model="k", messages=[{"role": "user", "content": "x"}]
            )
        assert "The API key is missing or wrong." in str(wrong.value)
        ok = server.client("right-key").chat.completions.create(
            model="k", messages=[{"role": "user", "content": "x"}]
        )
        assert text_of(ok).strip() == ANSWER
    finally:
        server.stop()


def test_a_think_budget_or_reasoning_effort_ends_the_thinking(replay_server: Server) -> None:
    """Ponder's ``think_budget`` (and OpenAI's ``reasoning_effort``, mapped to one) make the
    model answer after that much thinking; a bad value is one sentence."""
    client = replay_server.client()
    ask: dict[str, Any] = {"model": "r1", "messages": [{"role": "user", "content": "x"}]}
    full = client.chat.completions.create(**ask)
    short = client.chat.completions.create(**ask, extra_body={"think_budget": 3})
    full_details = usage_of(full).completion_tokens_details
    short_details = usage_of(short).completion_tokens_details
    assert full_details is not None and short_details is not None
    assert short_details.reasoning_tokens is not None and full_details.reasoning_tokens
    assert short_details.reasoning_tokens < full_details.reasoning_tokens
    assert not extra(short.choices[0].message)["reasoning_content"].startswith(THOUGHT)
    assert text_of(short).strip() == ANSWER  # it still answers
    low = client.chat.completions.create(**ask, reasoning_effort="low")
    assert text_of(low).strip() == ANSWER  # 1,024 tokens: more than this thought needs
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(**ask, extra_body={"reasoning_effort": "extreme"})
    assert "reasoning_effort must be low, medium or high." in str(bad.value)


def test_answer_now_ends_a_running_requests_thinking(tmp_path: Path, ponder_home: Path) -> None:
    slow = write_replay(tmp_path / "slow.jsonl", pace=20, repeat=100)  # ~50 s of thinking
    server = Server("-m", str(slow))
    try:
        stream = server.client().chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "x"}], stream=True
        )
        reasoning, answer, cid = [], [], ""
        for chunk in stream:
            cid = chunk.id
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is not None and extra(delta).get("reasoning_content"):
                reasoning.append(extra(delta)["reasoning_content"])
                if len(reasoning) == 3:
                    said = httpx2.post(f"{server.base}/chat/completions/{cid}/answer_now")
                    assert said.status_code == 200 and said.json()["answer_now"] is True
            elif delta is not None and delta.content:
                answer.append(delta.content)
        assert "".join(answer).strip() == ANSWER
        assert len(reasoning) < 100  # far from the 1,000 recorded chunks of thinking
        gone = httpx2.post(f"{server.base}/chat/completions/{cid}/answer_now")
        assert gone.status_code == 404 and "No running request" in gone.json()["error"]["message"]
    finally:
        server.stop()


def test_a_full_queue_gets_429_and_health_says_who_uses_the_engine(
    tmp_path: Path, ponder_home: Path
) -> None:
    """One request runs, four wait (the queue's bound), the sixth is refused at once."""
    slow = write_replay(tmp_path / "slow.jsonl", pace=20, repeat=100)
    server = Server("-m", str(slow))
    ask: dict[str, Any] = {"model": "slow", "messages": [{"role": "user", "content": "x"}]}
    streams = []
    try:
        running = server.client().chat.completions.create(**ask, stream=True)
        streams.append(running)
        next(iter(running))
        streams += [server.client().chat.completions.create(**ask, stream=True) for _ in range(4)]
        deadline = time.monotonic() + 30
        while httpx2.get(f"{server.base}/../health").json()["engine"]["waiting"] < 4:
            assert time.monotonic() < deadline, "the four never queued"
            time.sleep(0.05)
        health = httpx2.get(f"{server.base}/../health").json()
        assert health["engine"] == {"in_use_by": "An API client (slow)", "waiting": 4}
        with pytest.raises(openai.RateLimitError) as full:
            server.client().chat.completions.create(**ask)
        assert "4 requests are already waiting for the engine." in str(full.value)
        assert full.value.code == "engine_busy"
    finally:
        for stream in streams:
            stream.close()
        server.stop()


def test_a_model_too_large_is_refused_with_the_apps_sentence(
    tmp_path: Path, ponder_home: Path
) -> None:
    giant = giant_gguf(tmp_path / "giant.gguf")
    server = Server("-m", str(giant))
    try:
        client = server.client()
        listed = client.models.list().data
        assert [m.id for m in listed] == ["giant"]
        fit = extra(listed[0])["ponder"]["fit"]
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(
                model="giant", messages=[{"role": "user", "content": "x"}]
            )
        message = refused.value.body["message"]  # type: ignore[index]
        assert refused.value.code == "too_large"
        assert "needs about" in message and "GB free" in message
        assert "Traceback" not in message and "Too large" in fit
        # The server is still there for the next request.
        assert httpx2.get(f"{server.base}/../health").status_code == 200
    finally:
        server.stop()


def test_a_new_key_is_shown_once_required_and_revocable(
    tmp_path: Path, ponder_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key lives in the system keyring (a file-backed keyring stands in: no Secret
    Service runs here); once made, even loopback requests need it; revoked, they do not."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FILE_KEYRING)
    monkeypatch.setenv(KEYRING_FILE, str(tmp_path / "keyring.json"))
    replay = str(write_replay(tmp_path / "k.jsonl"))
    ask: dict[str, Any] = {"model": "k", "messages": [{"role": "user", "content": "x"}]}
    server = Server("--new-key", "-m", replay)
    try:
        log = server.log.read_text()
        keys = [line for line in log.splitlines() if line.startswith("ponder-")]
        assert len(keys) == 1 and "shown only now" in log
        with pytest.raises(openai.AuthenticationError):
            server.client().chat.completions.create(**ask)
        assert text_of(server.client(keys[0]).chat.completions.create(**ask)).strip() == ANSWER
    finally:
        server.stop()
    assert keys[0] in (tmp_path / "keyring.json").read_text()
    again = Server("-m", replay)  # the kept key still guards the next start
    try:
        assert "ponder-" not in again.log.read_text()  # shown once, never again
        with pytest.raises(openai.AuthenticationError):
            again.client().chat.completions.create(**ask)
    finally:
        again.stop()
    revoked = ponder("serve", "--revoke-key")
    assert revoked.code == 0 and "the API key is removed" in revoked.stderr
    assert keys[0] not in (tmp_path / "keyring.json").read_text()
    free = Server("-m", replay)
    try:
        assert text_of(free.client().chat.completions.create(**ask)).strip() == ANSWER
    finally:
        free.stop()
