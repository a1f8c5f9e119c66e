"""Engines beyond this process: llama.cpp's RPC workers and OpenAI-compatible servers.

Everything real on loopback: two `ponder worker` processes (llama.cpp's rpc-server from
Ponder's build), llama-server started by the pooled engine, llama-server started by the
test for the endpoint backend, and a small SSE server for the shapes llama-server does not
send (inline <think>, errors, a stream cut mid-reply). Only the internet is missing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from app.core.events import AnswerDelta, Done, ErrorEvent, Event, ReasoningDelta
from app.core.gguf import read_header
from app.inference import native
from app.inference.backends.endpoint import wait_until_ready
from app.inference.client import EngineClient
from app.inference.protocol import EndpointSpec, LoadSpec, PooledSpec, SamplingParams
from tests.integration.cli import ROOT, ponder
from tests.loopback import free_port, start_workers, stop_workers, wait_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GREEDY = SamplingParams(temperature=0.0, max_tokens=24, seed=1, ignore_eos=True)
PROMPT = "Once upon a time"


def collect(events: Iterator[Event]) -> tuple[str, str, Event]:
    reasoning, answer, last = "", "", None
    for e in events:
        if isinstance(e, ReasoningDelta):
            reasoning += e.text
        elif isinstance(e, AnswerDelta):
            answer += e.text
        last = e
    assert last is not None
    return reasoning, answer, last


@pytest.fixture
def client(ponder_home: Path) -> Iterator[EngineClient]:
    c = EngineClient(ponder_home / "logs" / "engine.log")
    yield c
    c.close()


@pytest.fixture
def workers(ponder_home: Path) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Two `ponder worker` processes on loopback."""
    started = start_workers(None, None)
    yield started
    stop_workers(started)


def rpc_server(worker: subprocess.Popen[bytes]) -> psutil.Process:
    (child,) = psutil.Process(worker.pid).children()
    return child


def test_a_model_pooled_over_two_workers_is_split_and_answers_like_the_local_engine(
    client: EngineClient, gemma_path: Path, workers: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    before = [rpc_server(p).memory_info().rss for _, p in workers]
    spec = PooledSpec(str(gemma_path), tuple(a for a, _ in workers), n_ctx=1024)
    _, pooled, done = collect(client.generate(spec, [], GREEDY, raw_prompt=PROMPT))
    assert isinstance(done, Done), done
    assert done.stats.backend == "pooled (2 workers)"
    # Each worker holds part of the 235 MB of weights now.
    grown = [rpc_server(p).memory_info().rss - b for (_, p), b in zip(workers, before, strict=True)]
    assert all(g > 40 * 2**20 for g in grown), grown
    assert sum(grown) > 150 * 2**20, grown

    _, local, local_done = collect(
        client.generate(LoadSpec(str(gemma_path), n_ctx=1024), [], GREEDY, raw_prompt=PROMPT)
    )
    assert isinstance(local_done, Done)
    assert pooled == local and len(pooled) > 20


def test_a_worker_killed_mid_reply_is_named_the_text_is_kept_and_the_next_send_works(
    client: EngineClient, gemma_path: Path, workers: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    spec = PooledSpec(str(gemma_path), tuple(a for a, _ in workers), n_ctx=4096)
    long = SamplingParams(temperature=0.7, max_tokens=3000, seed=2, ignore_eos=True)
    victim_address, victim = workers[1]
    text, last = "", None
    for event in client.generate(spec, [], long, raw_prompt=PROMPT):
        if isinstance(event, AnswerDelta):
            text += event.text
            if len(text) > 200 and victim.poll() is None:
                rpc_server(victim).kill()
                victim.kill()
        last = event
    assert isinstance(last, ErrorEvent), last
    assert victim_address in last.message and "stopped answering" in last.message
    assert len(text) > 200  # what was written before is kept (the caller has it)

    _, again, done = collect(client.generate(spec, [], GREEDY, raw_prompt=PROMPT))
    assert isinstance(done, Done), done
    assert done.stats.backend == "pooled (1 worker)" and again


def test_the_cli_pools_a_model_with_workers(
    gemma_path: Path, workers: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    r = ponder(
        "chat", "-m", str(gemma_path), "--workers", ",".join(a for a, _ in workers),
        "-p", "Hello", "--max-tokens", "8", "--json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert r.events[-1]["event"] == "done"
    assert r.events[-1]["stats"]["backend"] == "pooled (2 workers)"


def test_no_reachable_worker_is_one_sentence(gemma_path: Path) -> None:
    port = free_port()  # nothing listens there
    r = ponder("chat", "-m", str(gemma_path), "--workers", f"127.0.0.1:{port}", "-p", "Hi")
    assert r.code == 1
    assert f"No worker is reachable (127.0.0.1:{port})" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture
def r1_llama_server(gemma_path: Path, r1_header_path: Path, tmp_path: Path) -> Iterator[str]:
    """llama-server with the 270M and the real R1 chat template, its generation prompt
    ending in ``<think>\\n`` as DeepSeek's newer templates do (R1-0528): the server sees the
    thinking opened by the prompt and sends what the model writes as reasoning_content."""
    template = str(read_header(r1_header_path).metadata["tokenizer.chat_template"])
    opening = "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}"
    assert opening in template
    newer = opening.replace("<｜Assistant｜>", "<｜Assistant｜><think>\\n")
    template_file = tmp_path / "r1.jinja"
    template_file.write_text(template.replace(opening, newer))
    port = free_port()
    binary = native.program("llama-server")
    assert binary is not None
    log = (tmp_path / "llama-server.log").open("wb")
    proc = subprocess.Popen(
        [str(binary), "-m", str(gemma_path), "--jinja", "--chat-template-file",
         str(template_file), "--reasoning-format", "deepseek", "-c", "2048", "-np", "1",
         "--host", "127.0.0.1", "--port", str(port), "--no-webui"],
        stdout=log, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, 120, alive=lambda: proc.poll() is None)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_endpoint_backend_takes_reasoning_content_from_llama_server(
    client: EngineClient, r1_llama_server: str
) -> None:
    spec = EndpointSpec(r1_llama_server, label="endpoint")
    sampling = SamplingParams(temperature=0.0, max_tokens=24, seed=1)
    reasoning, answer, done = collect(
        client.generate(spec, [{"role": "user", "content": "Say hi."}], sampling)
    )
    assert isinstance(done, Done), done
    assert reasoning.strip(), "the server's reasoning_content did not reach the panel"
    assert "<think>" not in reasoning + answer
    assert done.stats.reasoning_tokens > 0
    assert done.stats.prompt_tokens > 5 and done.stats.decode_tok_s  # the server's figures


class _FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Callable[[BaseHTTPRequestHandler], None]


def _sse(
    handler: BaseHTTPRequestHandler, chunks: list[dict[str, object]], cut: bool = False
) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    for chunk in chunks:
        handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        handler.wfile.flush()
        time.sleep(0.01)
    if cut:
        handler.connection.shutdown(socket.SHUT_RDWR)
        return
    handler.wfile.write(b"data: [DONE]\n\n")


def _content(text: str) -> dict[str, object]:
    return {"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]}


@pytest.fixture
def fake_server() -> Iterator[_FakeServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/v1/models":
                body = json.dumps({"data": [{"id": "fake-r1"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            server.behaviour(self)

        def log_message(self, *args: object) -> None:
            pass

    server = _FakeServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _FakeServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_inline_think_from_a_server_is_split_like_a_local_model(
    client: EngineClient, fake_server: _FakeServer
) -> None:
    pieces = ["<think>\n", "The user ", "greets me.", "\n</think>\n\n", "Hello ", "there!"]
    fake_server.behaviour = lambda h: _sse(
        h, [*map(_content, pieces), {"id": "c1", "choices": [], "usage": {"prompt_tokens": 9}}]
    )
    spec = EndpointSpec(_url(fake_server), label="endpoint")
    reasoning, answer, done = collect(client.generate(spec, [{"role": "user", "content": "hi"}]))
    assert isinstance(done, Done), done
    assert reasoning.strip() == "The user greets me."
    assert answer.strip() == "Hello there!"
    assert done.stats.prompt_tokens == 9 and done.stats.model == "fake-r1"


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "refused the API key (401)"), (429, "busy or rate-limited (429)")],
)
def test_a_refusing_server_is_one_sentence(
    client: EngineClient, fake_server: _FakeServer, status: int, words: str
) -> None:
    def refuse(h: BaseHTTPRequestHandler) -> None:
        body = json.dumps({"error": {"message": "nope"}}).encode()
        h.send_response(status)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    fake_server.behaviour = refuse
    _, _, last = collect(
        client.generate(EndpointSpec(_url(fake_server)), [{"role": "user", "content": "hi"}])
    )
    assert isinstance(last, ErrorEvent) and words in last.message


def test_a_stream_cut_mid_reply_keeps_the_text_and_says_so(
    client: EngineClient, fake_server: _FakeServer
) -> None:
    fake_server.behaviour = lambda h: _sse(h, [_content("Partial "), _content("answer")], cut=True)
    _, answer, last = collect(
        client.generate(EndpointSpec(_url(fake_server)), [{"role": "user", "content": "hi"}])
    )
    assert answer == "Partial answer"
    assert isinstance(last, ErrorEvent) and "broke mid-reply" in last.message


def test_an_unreachable_server_is_one_sentence_and_the_cli_says_it(
    client: EngineClient,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    _, _, last = collect(client.generate(EndpointSpec(url), [{"role": "user", "content": "hi"}]))
    assert isinstance(last, ErrorEvent)
    assert last.message == f"Cannot reach the server at {url} (connection refused)."
    r = ponder("chat", "--engine", url, "-p", "hi")
    assert r.code == 1 and "Cannot reach the server" in r.stderr and "Traceback" not in r.stderr


def test_the_cli_chats_through_an_endpoint_with_a_key_from_the_environment(
    fake_server: _FakeServer,
) -> None:
    seen: list[str] = []

    def answer(h: BaseHTTPRequestHandler) -> None:
        seen.append(h.headers.get("Authorization", ""))
        _sse(h, [_content("<think>ok</think>"), _content("Fine.")])

    fake_server.behaviour = answer
    os.environ["PONDER_TEST_KEY"] = "sekrit"
    try:
        r = ponder("chat", "--engine", _url(fake_server), "--api-key-env", "PONDER_TEST_KEY",
                   "-p", "hi", "--json")  # fmt: skip
    finally:
        del os.environ["PONDER_TEST_KEY"]
    assert r.code == 0, r.stderr
    assert r.text("answer").strip() == "Fine." and r.text("reasoning") == "ok"
    assert seen == ["Bearer sekrit"]
    missing = ponder(
        "chat", "--engine", _url(fake_server), "--api-key-env", "NO_SUCH_VAR_X", "-p", "hi"
    )
    assert missing.code == 2 and "NO_SUCH_VAR_X is empty or not set" in missing.stderr


def test_a_worker_says_where_it_listens_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "worker", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_port(port)
        children = psutil.Process(proc.pid).children()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"--workers 127.0.0.1:{port}" in err
    assert "no password" not in err  # loopback: nothing to warn about
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive


def test_fit_across_two_workers_for_the_real_r1_7b_header(
    r1_header_path: Path, workers: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    gone = f"127.0.0.1:{free_port()}"
    addresses = [a for a, _ in workers]
    r = ponder("fit", str(r1_header_path), "--workers", ",".join([*addresses, gone]), "--json")
    plan = r.events[0]
    assert plan["fits"] is True
    assert [s["worker"] for s in plan["split"]] == addresses
    header = read_header(r1_header_path)
    embeddings = next(t.n_bytes for t in header.tensors if t.name == "token_embd.weight")
    # Every layer and the output head go to the workers; the embeddings stay here.
    assert sum(s["weights"] for s in plan["split"]) == 4_677_120_000 - embeddings
    assert sum(s["kv_cache"] for s in plan["split"]) == 28 * 4096 * 4 * (128 + 128) * 2
    assert plan["unusable"] == [{"worker": gone, "problem": "not reachable (connection refused)"}]
    assert plan["speed_tok_s"]["low"] > 0
    assert r.code == 1 and "is incomplete" in r.stderr  # the fixture is a header only

    text = ponder("hw", "--workers", ",".join(addresses))
    assert text.code == 0, text.stderr
    assert "DeepSeek-R1 Distill Qwen 7B Q4_K_M" in text.stdout
    assert "Runs across 2 machines" in text.stdout
    assert "Too large across 2 machines" in text.stdout  # the 671B on two loopback workers
    assert f"Worker   {addresses[0]}:" in text.stdout and "same build" in text.stdout


@pytest.fixture
def lending_workers(ponder_home: Path) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Two `ponder worker --mem` processes on loopback lending 0.3 GB and 0.9 GB."""
    started = start_workers("0.3", "0.9")
    yield started
    stop_workers(started)


def test_a_worker_lends_only_what_mem_says_and_gets_that_share(
    client: EngineClient,
    gemma_path: Path,
    lending_workers: list[tuple[str, subprocess.Popen[bytes]]],
) -> None:
    addresses = [a for a, _ in lending_workers]
    r = ponder("fit", str(gemma_path), "--workers", ",".join(addresses), "--json")
    assert r.code == 0, r.stderr
    plan = r.events[0]
    offered = [w["offered_bytes"] for w in plan["workers"]]
    assert offered == [300_000_000, 900_000_000]
    assert plan["offered"] == 1_200_000_000  # not the machine's free memory, twice
    small, big = plan["split"]
    assert big["weights"] > 2 * small["weights"]  # about 3:1, as lent

    # The pooled engine splits the model as lent, not by free memory (equal here).
    before = [rpc_server(p).memory_info().rss for _, p in lending_workers]
    from app.cli.chat import split

    spec = PooledSpec(str(gemma_path), tuple(addresses), n_ctx=1024, tensor_split=split(addresses))
    assert spec.tensor_split == (0.3, 0.9)
    _, _, done = collect(client.generate(spec, [], GREEDY, raw_prompt=PROMPT))
    assert isinstance(done, Done), done
    grown = [
        rpc_server(p).memory_info().rss - b
        for (_, p), b in zip(lending_workers, before, strict=True)
    ]
    assert grown[1] > 2 * grown[0], grown
