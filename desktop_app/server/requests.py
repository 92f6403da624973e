"""OpenAI chat-completion requests: validated into one typed value, or a 400 in OpenAI's shape.

Scripts written for OpenAI or Ollama send fields Folio does not use (`frequency_penalty`,
`user`, `logit_bias`…): unknown fields are ignored, never refused, so such a script runs by
changing only its `base_url`. What Folio cannot honour and a script would silently depend on
(`n` > 1, tools) is refused with a message naming the field, and so is a field of the wrong
type: every malformed request is a 400, never a 500 with a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Answer length when the request gives none: finite, so a runaway answer ends.
DEFAULT_MAX_TOKENS = 2048
#: Request bodies over this many MB are refused (`folio serve --max-request-mb`): far more
#: than a full context of text, far less than the gigabytes a huge prompt grows the server by.
DEFAULT_MAX_REQUEST_MB = 8
ROLES = frozenset({"system", "developer", "user", "assistant"})


class ApiError(Exception):
    """An error for the client: status code and OpenAI's error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        self.headers = headers or {}


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[dict[str, str], ...]
    model: str
    max_tokens: int
    temperature: float | None
    top_p: float | None
    seed: int | None
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool
    thinking: bool
    #: GBNF the answer must match (response_format json_object / json_schema); "" = free text.
    grammar: str = ""


def parse_chat(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of messages.", param="messages")
    n = body.get("n", 1)
    if n not in (1, None):
        raise ApiError(400, "Only n=1 is supported: one answer per request.", param="n")
    if body.get("tools"):
        raise ApiError(400, "Tools are not supported by this server.", param="tools")
    stream_options = _typed(body, "stream_options", dict, "an object") or {}
    template_kwargs = _typed(body, "chat_template_kwargs", dict, "an object") or {}
    effort = _typed(body, "reasoning_effort", str, "a string")
    thinking = bool(template_kwargs.get("enable_thinking", effort not in (None, "none")))
    grammar = _grammar(body.get("response_format"))
    return ChatRequest(
        messages=tuple(_message(m, i) for i, m in enumerate(messages)),
        model=_typed(body, "model", str, "a string") or "",
        max_tokens=_max_tokens(body),
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        seed=_integer(body, "seed"),
        stop=_stop(body.get("stop")),
        stream=bool(_typed(body, "stream", bool, "true or false")),
        include_usage=bool(stream_options.get("include_usage")),
        # A grammar constrains every token, reasoning included: JSON mode never thinks.
        thinking=thinking and not grammar,
        grammar=grammar,
    )


def _grammar(response_format: Any) -> str:
    """The GBNF for `response_format` (llama-cpp-python's JSON-schema converter)."""
    if response_format is None:
        return ""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return ""
    from llama_cpp import llama_grammar

    if kind == "json_object":
        return llama_grammar.JSON_GBNF
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ApiError(400, "response_format.json_schema.schema must be a JSON schema.",
                           param="response_format")  # fmt: skip
        try:
            return llama_grammar.json_schema_to_gbnf(json.dumps(schema))
        except RecursionError:  # the converter recurses once per level of the schema
            raise ApiError(400, "response_format's JSON schema is nested too deeply.",
                           param="response_format") from None  # fmt: skip
        except Exception as exc:  # the converter raises plain exceptions for what it lacks
            raise ApiError(400, f"This JSON schema cannot be enforced: {exc}",
                           param="response_format") from None  # fmt: skip
    raise ApiError(400, "response_format.type must be text, json_object or json_schema.",
                   param="response_format")  # fmt: skip


def _message(message: Any, index: int) -> dict[str, str]:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise ApiError(400, f"{param} must be an object with 'role' and 'content'.", param=param)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise ApiError(400, f"{param}.role must be one of {', '.join(sorted(ROLES))}.",
                       param=f"{param}.role")  # fmt: skip
    content = message.get("content")
    if isinstance(content, list):  # text parts: [{"type": "text", "text": "…"}]
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(400, f"{param}.content: only text parts are supported.",
                               param=f"{param}.content")  # fmt: skip
            text = part.get("text", "")
            if not isinstance(text, str):
                raise ApiError(400, f"{param}.content: a text part's 'text' must be a string.",
                               param=f"{param}.content")  # fmt: skip
            texts.append(text)
        content = "".join(texts)
    if content is None and role == "assistant":
        content = ""
    if not isinstance(content, str):
        raise ApiError(400, f"{param}.content must be a string or a list of text parts.",
                       param=f"{param}.content")  # fmt: skip
    return {"role": "system" if role == "developer" else role, "content": content}


def _typed(body: dict, key: str, kind: type, what: str) -> Any:
    """`body[key]` if it is a `kind` (None if absent): a wrong type is a 400 naming the field."""
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise ApiError(400, f"'{key}' must be {what}.", param=key)
    return value


def _max_tokens(body: dict) -> int:
    # max_completion_tokens replaced max_tokens in OpenAI's API; when both come, it wins.
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ApiError(400, f"'{key}' must be a positive integer.", param=key)
            return value
    return DEFAULT_MAX_TOKENS


def _number(body: dict, key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(400, f"'{key}' must be a number from {low:g} to {high:g}.", param=key)
    return float(value)


def _integer(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{key}' must be an integer.", param=key)
    return value & 0xFFFFFFFF


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value) or len(value) > 4:
        raise ApiError(400, "'stop' must be a string or a list of up to 4 strings.", param="stop")
    return tuple(s for s in value if s)
