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
