"""Render conversations with the model's own chat template (from the GGUF).

The template is Jinja code shipped inside the model file, so it runs in
Jinja's immutable sandbox (llama-cpp-python's `Jinja2ChatFormatter`), never as
plain Jinja. Models without a template fall back to ChatML, the format most
instruction-tuned GGUFs use, and say so.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from desktop_app.errors import ModelFileError

Message = dict[str, str]

#: Stands in for the last answer when rendering what follows it (see `continuation`).
SENTINEL = "FOLIO-ANSWER-END-7f3a9c"

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ChatTemplate:
    def __init__(self, template: str | None, *, bos_token: str, eos_token: str) -> None:
        self.is_fallback = not template
        self.source = template or CHATML_TEMPLATE
        #: Qwen3.5 (and Qwen3) templates take `enable_thinking`; others ignore it.
        self.supports_thinking = "enable_thinking" in self.source
        self._bos_token = bos_token
        try:
            self._formatter = Jinja2ChatFormatter(
                template=self.source, eos_token=eos_token, bos_token=bos_token
            )
        except Exception as exc:  # jinja2.TemplateSyntaxError and friends
            raise ModelFileError(f"The model's chat template is invalid: {exc}") from exc

    def render(
        self,
        messages: Sequence[Message],
        *,
        thinking: bool,
        add_generation_prompt: bool = True,
    ) -> str:
        kwargs = {"enable_thinking": thinking} if self.supports_thinking else {}
        self._formatter.add_generation_prompt = add_generation_prompt
        try:
            response = self._formatter(messages=list(messages), **kwargs)
        except Exception as exc:  # raise_exception() in templates, sandbox violations
            raise ModelFileError(f"The model's chat template failed to render: {exc}") from exc
        return response.prompt

    def continuation(
        self, history: Sequence[Message], question: str, *, thinking: bool
    ) -> str | None:
        """The template text that follows the last answer when `question` is asked next.

        Earlier turns stay in the context exactly as they were read and
        generated (append-only), even where the template would re-render them
        differently — Qwen3.5's drops the reasoning of earlier answers — so
        that a follow-up reads only its own tokens. We render the real
        conversation with the last answer replaced by a sentinel and keep what
        comes after it: the end-of-turn markup, the new user turn and the
        generation prompt. None if the template does not show the answer.
        """
        messages = list(history)
        messages[-1] = {**messages[-1], "content": SENTINEL}
        text = self.render([*messages, {"role": "user", "content": question}], thinking=thinking)
        at = text.rfind(SENTINEL)
        return text[at + len(SENTINEL) :] if at >= 0 else None
