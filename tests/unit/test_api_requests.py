"""The API's request parsing and stop-string scanning, without a model."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from desktop_app.server.generation import MAX_CHARS_PER_TOKEN, Rejected, StopScanner, chat_job
from desktop_app.server.requests import DEFAULT_MAX_TOKENS, ApiError, parse_chat

HI = [{"role": "user", "content": "x"}]


def _scan(pieces: list[str], stops: tuple[str, ...]) -> tuple[str, bool]:
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(p) for p in pieces)
    return (out if scanner.hit else out + scanner.flush()), scanner.hit


def test_a_stop_string_split_across_pieces_is_cut_whole() -> None:
    assert _scan(["Hel", "lo, w", "orld"], ("o, wo",)) == ("Hell", True)
    assert _scan(["The end", "ing is near"], ("END",)) == ("The ending is near", False)
    # A held-back tail that turns out not to be a stop string is delivered, in order.
    assert _scan(["abc#", "#", "x"], ("###",)) == ("abc##x", False)
    assert _scan(["one", " two"], ()) == ("one two", False)
    assert _scan(["a STOP b", " STOP c"], ("STOP", "b")) == ("a ", True)


def test_unknown_fields_are_ignored_and_defaults_are_finite() -> None:
    request = parse_chat({"model": "qwen3.5:9b", "messages": [{"role": "user", "content": "hi"}],
                          "frequency_penalty": 0.5, "user": "me", "logit_bias": {}})  # fmt: skip
    assert request.max_tokens == DEFAULT_MAX_TOKENS and not request.thinking
    assert request.messages == ({"role": "user", "content": "hi"},)


def test_text_parts_developer_role_and_thinking_switches() -> None:
    request = parse_chat({
        "messages": [{"role": "developer", "content": "Be brief."},
                     {"role": "user", "content": [{"type": "text", "text": "a"},
                                                  {"type": "text", "text": "b"}]}],
        "chat_template_kwargs": {"enable_thinking": True}, "stop": "END", "seed": -1,
    })  # fmt: skip
    assert request.messages == ({"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "ab"})  # fmt: skip
    assert request.thinking and request.stop == ("END",) and request.seed == 0xFFFFFFFF
    assert parse_chat({"messages": [{"role": "user", "content": "x"}],
                       "reasoning_effort": "low"}).thinking  # fmt: skip


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content",
        ),
    ],
)
def test_what_cannot_be_honoured_is_a_400_naming_the_field(body, param) -> None:
    with pytest.raises(ApiError) as info:
        parse_chat(body)
    assert info.value.status == 400 and info.value.body["error"]["param"] == param


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("chat_template_kwargs", ["enable_thinking"], "'chat_template_kwargs' must be an object."),
        ("chat_template_kwargs", "on", "'chat_template_kwargs' must be an object."),
        ("stream_options", "include_usage", "'stream_options' must be an object."),
        ("model", {"name": "m"}, "'model' must be a string."),
        ("stream", "false", "'stream' must be true or false."),
        ("reasoning_effort", 3, "'reasoning_effort' must be a string."),
    ],
)
def test_a_field_of_the_wrong_type_is_a_400_naming_it(field, value, message) -> None:
    with pytest.raises(ApiError) as info:
        parse_chat({"messages": HI, field: value})
    assert info.value.status == 400
    assert info.value.body["error"] == {"message": message, "type": "invalid_request_error",
                                        "param": field, "code": None}  # fmt: skip


def test_a_text_part_whose_text_is_not_a_string_is_a_400() -> None:
    part = {"type": "text", "text": {"nested": "x"}}
    with pytest.raises(ApiError) as info:
        parse_chat({"messages": [{"role": "user", "content": [part]}]})
    assert info.value.body["error"]["message"] == (
        "messages[0].content: a text part's 'text' must be a string."
    )


def test_a_json_schema_too_deep_to_convert_is_a_400_naming_response_format() -> None:
    schema: dict = {"type": "string"}
    for _ in range(2000):
        schema = {"type": "array", "items": schema}
    spec = {"type": "json_schema", "json_schema": {"schema": schema}}
    with pytest.raises(ApiError) as info:
        parse_chat({"messages": HI, "response_format": spec})
    assert info.value.status == 400
    assert info.value.body["error"]["message"] == (
        "response_format's JSON schema is nested too deeply."
    )
    assert info.value.body["error"]["param"] == "response_format"


class _Engine(SimpleNamespace):
    """As much of an engine as a prompt that cannot fit reaches, noting what it was asked."""

    def render(self, messages, *, thinking: bool) -> str:
        self.rendered.append(sum(len(m["content"]) for m in messages))
        return "prompt"

    def tokenize(self, text: str) -> list[int]:
        return [0] * (self.n_ctx + 1)


def test_a_prompt_far_too_long_is_refused_before_it_is_rendered() -> None:
    engine = _Engine(n_ctx=4096, rendered=[])
    limit = 4096 * MAX_CHARS_PER_TOKEN

    def ask(chars: int) -> dict:
        half = chars // 2
        system, user = {"role": "system", "content": "s" * half}, "u" * (chars - half)
        request = parse_chat({"messages": [system, {"role": "user", "content": user}]})
        [rejected] = chat_job(engine, request, threading.Event())
        assert isinstance(rejected, Rejected)
        return rejected.error.body["error"]

    assert ask(limit + 1) == {
        "message": "This model's context holds 4,096 tokens; the messages take 65,537 "
        "characters, far more than fit. Shorten them.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded",
    }  # fmt: skip
    assert engine.rendered == []
    # Up to the bound, the tokenizer has the last word.
    assert ask(limit)["message"] == (
        "This model's context holds 4,096 tokens; the messages take 4,097. Shorten them."
    )
    assert engine.rendered == [limit]
