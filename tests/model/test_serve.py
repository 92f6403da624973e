"""`folio serve` driven by the official openai client, as scripts written for Ollama do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest

from tests.support import free_port

pytestmark = pytest.mark.model

KEY = "test-key"
QUESTION = [{"role": "user", "content": "Name three colours of the rainbow."}]


def _serve(home: Path, model: Path, *options: str, key: str | None = None) -> Iterator[str]:
    """`folio serve` with `options` on a free port: its /v1 URL once it answers."""
    port = free_port()
    env = {**os.environ, "FOLIO_HOME": str(home)}
    args = [sys.executable, "-m", "desktop_app", "serve", "--model", str(model),
            "--port", str(port), "--ctx", "4096", *options]  # fmt: skip
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/models", headers=headers)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory, smollm2_gguf: Path) -> Iterator[str]:
    home = tmp_path_factory.mktemp("serve-home")
    yield from _serve(home, smollm2_gguf, "--api-key", KEY, key=KEY)


@pytest.fixture
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server, api_key=KEY, max_retries=0)


def _greedy(client: openai.OpenAI, **kw):
    return client.chat.completions.create(model="qwen3.5:9b", messages=QUESTION,
                                          temperature=0, max_tokens=40, **kw)  # fmt: skip


def test_the_stream_joins_to_the_non_streamed_answer(client) -> None:
    whole = _greedy(client)
    assert whole.id.startswith("chatcmpl-") and whole.model == "qwen3.5:9b"
    message = whole.choices[0].message
    assert message.role == "assistant" and message.content
    chunks = list(_greedy(client, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:])
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == message.content
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    assert chunks[-1].choices[0].delta.content is None  # the last chunk only ends it
    assert all(c.usage is None for c in chunks)  # not asked for


def test_max_tokens_cuts_the_answer_and_usage_counts_it(client) -> None:
    done = client.chat.completions.create(model="any", messages=QUESTION, max_tokens=8)
    assert done.choices[0].finish_reason == "length"
    assert done.usage.completion_tokens == 8
    assert done.usage.total_tokens == done.usage.prompt_tokens + 8
    newer = client.chat.completions.create(model="any", messages=QUESTION, max_tokens=50,
                                           max_completion_tokens=3)  # fmt: skip
    assert newer.usage.completion_tokens == 3  # max_completion_tokens wins


def test_usage_chunk_only_when_asked(client) -> None:
    chunks = list(client.chat.completions.create(
        model="any", messages=QUESTION, max_tokens=6, stream=True,
        stream_options={"include_usage": True},
    ))  # fmt: skip
    *rest, usage = chunks
    assert usage.choices == [] and usage.usage.completion_tokens == 6
    assert rest[-1].choices[0].finish_reason == "length"


def test_a_stop_string_never_reaches_the_client(client) -> None:
    text = _greedy(client).choices[0].message.content
    words = text.split()
    stop = words[len(words) // 2]
    cut = text[: text.index(stop)]
    for stream in (False, True):
        reply = _greedy(client, stop=[stop], stream=stream)
        if stream:
            chunks = list(reply)
            got = "".join(c.choices[0].delta.content or "" for c in chunks)
            reason = chunks[-1].choices[0].finish_reason
        else:
            got, reason = reply.choices[0].message.content, reply.choices[0].finish_reason
        assert got == cut and stop not in got and reason == "stop"


@pytest.mark.parametrize(
    "messages",
    [
        None,
        "hello",
        [123],
        [{}],
        [{"role": 1, "content": "x"}],
        [{"role": "user", "content": 5}],
        [],
    ],  # fmt: skip
)
def test_malformed_messages_are_a_400_with_an_error_object(server, messages) -> None:
    reply = httpx.post(f"{server}/chat/completions", json={"model": "m", "messages": messages},
                       headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


def test_a_prompt_longer_than_the_context_is_refused_before_streaming(client) -> None:
    long = [{"role": "user", "content": "lighthouse " * 5000}]
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="m", messages=long, stream=stream)
        assert info.value.code == "context_length_exceeded"
        assert "4,096 tokens" in info.value.message


def test_the_api_key_and_a_local_host_are_required(server) -> None:
    wrong = openai.OpenAI(base_url=server, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    rebinding = httpx.get(f"{server}/models", headers={"Authorization": f"Bearer {KEY}",
                                                      "Host": "attacker.example"})  # fmt: skip
    assert rebinding.status_code == 403
    assert rebinding.json()["error"]["type"] == "permission_error"
    missing = httpx.get(f"{server}/nothing", headers={"Authorization": f"Bearer {KEY}"})
    assert missing.status_code == 404 and "error" in missing.json()


def test_concurrent_clients_are_answered_in_full_in_order(client) -> None:
    expected = _greedy(client).choices[0].message.content
    finished: list[int] = []
    answers: dict[int, str] = {}

    def ask(i: int) -> None:
        answers[i] = _greedy(client).choices[0].message.content
        finished.append(i)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # so the arrival order is known
    for thread in threads:
        thread.join(60)
    assert answers == {0: expected, 1: expected, 2: expected}
    assert finished == [0, 1, 2]  # one at a time, first come first served


def test_a_client_that_leaves_mid_stream_frees_the_engine(client) -> None:
    long = [{"role": "user", "content": "Write a very long story about the sea."}]
    stream = client.chat.completions.create(model="m", messages=long, max_tokens=3000,
                                            temperature=0, stream=True)  # fmt: skip
    for i, _chunk in enumerate(stream):
        if i == 3:
            break
    stream.close()
    began = time.monotonic()
    after = client.chat.completions.create(model="m", messages=QUESTION, max_tokens=5,
                                           stream=True)  # fmt: skip
    first = next(iter(after))
    waited = time.monotonic() - began
    after.close()
    # 3,000 tokens of the abandoned answer would take tens of seconds on this CPU.
    assert first.choices[0].delta.role == "assistant"
    assert waited < 3


def test_json_mode_and_a_json_schema_are_enforced(client) -> None:
    import json

    ask = [{"role": "user", "content": "Describe a cat."}]
    # Greedy, with room to finish: at the default temperature a 60-token cap once cut the
    # object short (finish_reason "length", as OpenAI's API does too), which is not a failure
    # of the grammar.
    free = client.chat.completions.create(model="m", messages=ask, max_tokens=200, temperature=0,
                                          response_format={"type": "json_object"})  # fmt: skip
    assert free.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(free.choices[0].message.content), dict)
    schema = {
        "type": "object",
        "required": ["name", "legs"],
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "legs": {"type": "integer", "minimum": 0, "maximum": 99},
        },
    }
    typed = client.chat.completions.create(
        model="m", messages=ask, max_tokens=200, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "cat", "schema": schema}},
    )  # fmt: skip
    value = json.loads(typed.choices[0].message.content)
    assert set(value) == {"name", "legs"}
    assert isinstance(value["name"], str) and isinstance(value["legs"], int)
    assert typed.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=ask,
                                       response_format={"type": "xml"})  # fmt: skip


PAGE = "http://localhost:3000"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, smollm2_gguf: Path) -> Iterator[str]:
    """`folio serve` for one web app's origin, with a 1 MB body limit and no key."""
    home = tmp_path_factory.mktemp("guarded-home")
    yield from _serve(home, smollm2_gguf, "--cors-origin", PAGE, "--max-request-mb", "1")


def test_only_the_cors_origin_s_pages_can_make_it_generate(guarded) -> None:
    ask = {"messages": QUESTION, "max_tokens": 3}
    # A "simple" request: what any page the user visits can send without a preflight.
    cross_site = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    evil = httpx.post(f"{guarded}/chat/completions", content=json.dumps(ask), headers=cross_site)
    assert evil.status_code == 403 and evil.json()["error"]["type"] == "permission_error"
    preflight = httpx.request("OPTIONS", f"{guarded}/chat/completions", headers={
        "Origin": PAGE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == PAGE
    assert "content-type" in preflight.headers["access-control-allow-headers"]
    page = httpx.post(f"{guarded}/chat/completions", json=ask, headers={"Origin": PAGE},
                      timeout=60)  # fmt: skip
    assert page.status_code == 200 and page.json()["usage"]["completion_tokens"] == 3
    assert page.headers["access-control-allow-origin"] == PAGE


def test_a_body_over_max_request_mb_is_a_413_and_the_server_stays_free(guarded) -> None:
    huge = {"messages": [{"role": "user", "content": "lighthouse " * 100_000}]}  # 1.1 MB
    began = time.monotonic()
    refused = httpx.post(f"{guarded}/chat/completions", json=huge)
    assert refused.status_code == 413
    assert refused.json()["error"]["message"] == (
        "The request body is larger than this server's limit of 1 MB."
    )
    listed = httpx.get(f"{guarded}/models")
    assert listed.status_code == 200 and time.monotonic() - began < 2


def test_a_prompt_far_over_the_context_is_refused_without_reading_it(guarded) -> None:
    # 66,000 characters could not fit in 4,096 tokens at 16 characters a token or fewer.
    far = {"messages": [{"role": "user", "content": "lighthouse " * 6000}]}
    began = time.monotonic()
    reply = httpx.post(f"{guarded}/chat/completions", json=far, timeout=60)
    assert time.monotonic() - began < 1
    assert reply.status_code == 400 and reply.json()["error"] == {
        "message": "This model's context holds 4,096 tokens; the messages take 66,000 "
        "characters, far more than fit. Shorten them.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded",
    }  # fmt: skip
