"""The API's request parsing and stop-string scanning, without a model."""

from __future__ import annotations

import pytest

from desktop_app.server.generation import StopScanner
from desktop_app.server.requests import DEFAULT_MAX_TOKENS, ApiError, parse_chat


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


def test_response_format_becomes_a_grammar_and_turns_thinking_off() -> None:
    base = {"messages": [{"role": "user", "content": "x"}],
            "chat_template_kwargs": {"enable_thinking": True}}  # fmt: skip
    assert parse_chat({**base, "response_format": {"type": "text"}}).grammar == ""
    json_mode = parse_chat({**base, "response_format": {"type": "json_object"}})
    assert "root" in json_mode.grammar and not json_mode.thinking
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    spec = {"type": "json_schema", "json_schema": {"schema": schema}}
    typed = parse_chat({**base, "response_format": spec})
    assert 'root ::= "{" space n-kv "}" space' in typed.grammar  # exactly the one key
    for bad in ({"type": "xml"}, {"type": "json_schema"}, "json"):
        with pytest.raises(ApiError) as info:
            parse_chat({**base, "response_format": bad})
        assert info.value.body["error"]["param"] == "response_format"
