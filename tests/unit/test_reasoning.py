from desktop_app.core.llm.reasoning import ReasoningSplitter, prompt_opens_reasoning


def run(pieces, in_reasoning=False):
    s = ReasoningSplitter(in_reasoning=in_reasoning)
    out = []
    for p in pieces:
        out.extend(s.feed(p))
    out.extend(s.flush())
    merged: list[tuple[str, str]] = []
    for kind, text in out:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def test_plain_answer_passes_through():
    assert run(["Hello", " world"]) == [("answer", "Hello world")]


def test_think_block_split_from_answer():
    assert run(["<think>\nplan it\n</think>\n\nThe answer."]) == [
        ("reasoning", "plan it\n"),
        ("answer", "The answer."),
    ]


def test_tags_split_across_pieces():
    pieces = ["<th", "ink>", "a", "b</th", "in", "k>", "\n", "c"]
    assert run(pieces) == [("reasoning", "ab"), ("answer", "c")]


def test_stream_starting_inside_reasoning():
    # Qwen3.5 with thinking on: the prompt already opened <think>.
    assert run(["\nhmm", "</think>\n\nyes"], in_reasoning=True) == [
        ("reasoning", "hmm"),
        ("answer", "yes"),
    ]


def test_lone_angle_bracket_is_not_swallowed():
    assert run(["a <", " b"]) == [("answer", "a < b")]
    assert run(["ends with <thi"]) == [("answer", "ends with <thi")]


def test_prompt_opens_reasoning():
    assert prompt_opens_reasoning("<|im_start|>assistant\n<think>\n")
    assert not prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert not prompt_opens_reasoning("<|im_start|>assistant\n")
