"""What Folio needs to know about a GGUF model, read without loading its weights.

The engine sizes the context and GPU placement, and the UI shows a model's
name, size and context limit, before llama.cpp touches the file; a bad file must
become a `ModelFileError` the user can act on instead of a crash inside C++.

`gguf.GGUFReader` would do the parsing, but it decodes every array eagerly and
takes seconds on a 250K-token vocabulary, so the header is walked here with
`struct`, skipping the tokenizer arrays (only their lengths are kept) and using
the gguf package's constants for value types, tensor types and file types.

The formulas mirror the vendored llama.cpp (llama-hparams.cpp, llama-model.cpp
and src/models/*.cpp); each helper names the code it follows. Sliding-window
layers are counted as full attention, so the KV figure is an upper bound there.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from desktop_app.errors import ModelFileError

#: llama.cpp's LLM_ARCH_NAMES (src/llama-arch.cpp, llama-cpp-python 0.3.36), less the
#: "clip" placeholder and "(unknown)"; llama_cpp exposes no way to list them at runtime.
SUPPORTED_ARCHITECTURES: frozenset[str] = frozenset(
    """
    llama llama4 deci falcon grok gpt2 gptj gptneox mpt baichuan starcoder refact bert
    modern-bert nomic-bert nomic-bert-moe neo-bert jina-bert-v2 jina-bert-v3 eurobert bloom
    stablelm qwen qwen2 qwen2moe qwen2vl qwen3 qwen3moe qwen3next qwen3vl qwen3vlmoe qwen35
    qwen35moe qwen4exp phi2 phi3 phimoe plamo plamo2 plamo3 codeshell orion internlm2 minicpm
    minicpm3 gemma gemma2 gemma3 gemma3n gemma4 gemma4-assistant gemma-embedding starcoder2
    mamba mamba2 maple jamba falcon-h1 xverse command-r cohere2 cohere2moe dbrx olmo olmo2
    olmoe muse-glimmer openelm arctic deepseek deepseek2 deepseek2-ocr deepseek32 deepseek4
    chatglm glm4 glm4moe glm-dsa bitnet t5 t5encoder jais jais2 nemotron nemotron_h
    nemotron_h_moe exaone exaone4 exaone-moe rwkv6 rwkv6qwen2 rwkv7 arwkv7 granite granitemoe
    granitehybrid graniteswitch granite_swa chameleon wavtokenizer-dec plm bailingmoe
    bailingmoe2 bailingmoe3 dots1 dots3note arcee afmoe laguna ernie4_5 ernie4_5-moe
    hunyuan-moe hunyuan-dense hunyuan_vl hy_v3 hy_v4 smollm3 gpt-oss lfm2 lfm2moe dream
    smallthinker llada llada-moe seed_oss grovemoe apertus minimax-01 hrm_text minimax-m2
    minimax-m3 cogvlm rnd1 pangu-embedded mistral3 eagle3 dflash mistral4 paddleocr mimo2
    step35 spark2_5 llama-embed maincoder kimi-linear kimi-k3 glm5-next talkie mellum
    nanbeige qwen3tts pockettts
""".split()
)

# Every layer is recurrent (llm_arch_is_recurrent in llama-arch.cpp).
_RECURRENT_ARCHS = frozenset({"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"})
# Hybrids that mark layers by `attention.recurrent_layers` or else every Nth layer is
# attention (qwen3next.cpp, qwen35.cpp, qwen35moe.cpp, qwen4exp.cpp, minimax-01.cpp).
_INTERVAL_DEFAULTS = {"qwen3next": 4, "qwen35": 4, "qwen35moe": 4, "qwen4exp": 4, "minimax-01": 8}
_RECURRENT_LAYERS_KEY = "{arch}.attention.recurrent_layers"  # not in gguf-py 0.19 yet
# Hybrids whose recurrent layers are those with no KV heads (jamba.cpp, lfm2.cpp, ...).
_HEADLESS_RECURRENT = frozenset(
    "jamba plamo2 granitehybrid lfm2 lfm2moe kimi-linear kimi-k3 glm5-next bailingmoe3 "
    "nemotron_h nemotron_h_moe".split()
)
# Families whose state size comes from other keys than ssm.* (llama_hparams::n_embd_r/s).
_RWKV_ARCHS = frozenset({"rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"})
_SHORTCONV_ARCHS = frozenset({"lfm2", "lfm2moe"})
_KDA_ARCHS = frozenset({"kimi-linear", "kimi-k3", "glm5-next", "bailingmoe3"})
# llama_model::create_memory always keeps recurrent state in f32.
_STATE_BYTES = 4
#: Cache types llama.cpp accepts for K and V (common/arg.cpp kv_cache_types).
CACHE_TYPES = frozenset({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"})
# Compute-buffer allowance: llama.cpp reserves its graph for one micro-batch (n_ubatch 512)
# whose every token may produce logits, and keeps a host logits buffer of the same size.
_UBATCH = 512
_RUNTIME_OVERHEAD = 128 * 1024**2  # activations, scratch and backend bookkeeping

# struct codes for GGUF's fixed-size value types, keyed by GGUFValueType.
_SCALAR_FORMATS: dict[int, struct.Struct] = {
    gguf.GGUFValueType[name]: struct.Struct("<" + code)
    for name, code in (
        item.split(":")
        for item in "UINT8:B INT8:b UINT16:H INT16:h UINT32:I INT32:i FLOAT32:f BOOL:? "
        "UINT64:Q INT64:q FLOAT64:d".split()
    )
}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
# Arrays longer than this (vocabularies, merges) are skipped; per-layer arrays are shorter
# (LLAMA_MAX_LAYERS is 512).
_MAX_DECODED_ARRAY = 1024


@dataclass(frozen=True)
class ModelInfo:
    """A model's identity and the numbers that decide how much memory it needs."""

    path: Path
    file_size: int
    architecture: str
    name: str | None
    size_label: str | None
    n_params: int
    quantization: str | None
    n_ctx_train: int
    n_layer: int  # trunk layers; MTP/NextN draft blocks are not run in the main pass
    n_layer_all: int  # every block in the file, MTP included (what GPU offload counts)
    n_attention_layers: int
    n_recurrent_layers: int
    n_embd: int
    n_head: int  # the largest per-layer value when the file gives an array
    n_head_kv: int  # likewise
    n_vocab: int
    kv_bytes_per_token: int  # f16 K+V per token, attention layers only
    recurrent_state_bytes: int  # f32 conv + ssm state of one sequence, fixed size
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None

    @property
    def is_hybrid(self) -> bool:
        return self.n_attention_layers > 0 and self.n_recurrent_layers > 0

    @property
    def is_recurrent(self) -> bool:
        return self.n_recurrent_layers > 0 and self.n_attention_layers == 0

    def kv_bytes_per_token_as(self, cache_type: str) -> int:
        """K+V bytes per token when llama.cpp stores the cache as `cache_type`.

        Quantized types pack blocks of 32 values (q8_0: 34 bytes, q4_0: 18 bytes);
        llama.cpp needs every row to be whole blocks, so the total is exact.
        """
        if cache_type not in CACHE_TYPES:
            raise ValueError(f"unknown KV cache type {cache_type!r}")
        block, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[cache_type.upper()]]
        elements = self.kv_bytes_per_token // 2
        return -(-elements // block) * block_bytes

    def cache_bytes(self, n_ctx: int, cache_type: str = "f16") -> int:
        """KV cache for `n_ctx` tokens plus the fixed recurrent state.

        llama.cpp rounds the context up to a multiple of 256 and allocates the
        whole cache up front, so this is what loading costs, used or not.
        """
        n_ctx = -(-n_ctx // 256) * 256
        return self.kv_bytes_per_token_as(cache_type) * n_ctx + self.recurrent_state_bytes

    def compute_bytes(self, n_ctx: int) -> int:
        """Scratch buffers for a 512-token micro-batch: an upper bound for planning.

        It holds the logits of a micro-batch twice (graph output and host copy),
        one layer's attention scores for it without flash attention, and a fixed
        margin for activations and scratch.
        """
        n_ctx = -(-n_ctx // 256) * 256
        return 4 * _UBATCH * (2 * self.n_vocab + self.n_head * n_ctx) + _RUNTIME_OVERHEAD

    def memory_estimate(self, n_ctx: int, cache_type: str = "f16") -> int:
        """Bytes to run the model with an `n_ctx` context (weights count as the file size)."""
        return self.file_size + self.cache_bytes(n_ctx, cache_type) + self.compute_bytes(n_ctx)


class _Truncated(Exception):
    """The header announces more bytes than the file has."""


class _HeaderReader:
    """Sequential, bounds-checked reads over the memory-mapped file."""

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.pos = 0
        self.size = len(buf)

    def take(self, n: int) -> int:
        start = self.pos
        if start + n > self.size:
            raise _Truncated
        self.pos = start + n
        return start

    def unpack(self, fmt: struct.Struct) -> Any:
        return fmt.unpack_from(self.buf, self.take(fmt.size))[0]

    def string(self) -> str:
        n = self.unpack(_U64)
        start = self.take(n)
        return self.buf[start : start + n].decode("utf-8", errors="replace")

    def value(self, vtype: int, key: str, arrays: dict[str, int]) -> Any:
        """One metadata value; long arrays are skipped and only their length kept."""
        if vtype == gguf.GGUFValueType.STRING:
            return self.string()
        if vtype == gguf.GGUFValueType.ARRAY:
            item_type, count = self.unpack(_U32), self.unpack(_U64)
            arrays.setdefault(key, count)  # nested arrays keep the outer length
            if count <= _MAX_DECODED_ARRAY:
                return [self.value(item_type, key, arrays) for _ in range(count)]
            if item_type == gguf.GGUFValueType.STRING:
                self.skip_strings(count)
            else:
                self.take(count * self._scalar(item_type).size)
            return None
        return self.unpack(self._scalar(vtype))

    def skip_strings(self, count: int) -> None:
        # The hot loop for a 250K-token vocabulary: locals only, one check per item.
        buf, size, pos, unpack = self.buf, self.size, self.pos, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                raise _Truncated
            pos += 8 + unpack(buf, pos)[0]
        if pos > size:
            raise _Truncated
        self.pos = pos

    @staticmethod
    def _scalar(vtype: int) -> struct.Struct:
        fmt = _SCALAR_FORMATS.get(vtype)
        if fmt is None:
            raise ValueError(f"it has metadata of unknown type {vtype}")
        return fmt


@dataclass(frozen=True)
class _Tensor:
    shape: tuple[int, ...]
    type: int
    offset: int  # from the start of the data section


def _parse(buf: mmap.mmap) -> tuple[dict[str, Any], dict[str, int], list[_Tensor], int]:
    """Metadata, lengths of arrays, tensor infos, and where tensor data starts."""
    r = _HeaderReader(buf)
    if buf[:4] != gguf.GGUF_MAGIC.to_bytes(4, "little"):
        raise ValueError("it is not a GGUF model file")
    r.take(4)
    version = r.unpack(_U32)
    if version not in (2, 3):
        raise ValueError(f"its GGUF version {version} is not supported")
    n_tensors, n_kv = r.unpack(_U64), r.unpack(_U64)
    meta: dict[str, Any] = {}
    arrays: dict[str, int] = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.unpack(_U32), key, arrays)
    tensors = []
    for _ in range(n_tensors):
        r.string()  # name
        n_dims = r.unpack(_U32)
        if n_dims > 4:  # GGML_MAX_DIMS
            raise ValueError(f"it has a tensor with {n_dims} dimensions")
        shape = tuple(r.unpack(_U64) for _ in range(n_dims))
        tensors.append(_Tensor(shape, r.unpack(_U32), r.unpack(_U64)))
    alignment = meta.get(gguf.Keys.General.ALIGNMENT, gguf.GGUF_DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        raise ValueError("its general.alignment is invalid")
    return meta, arrays, tensors, -(-r.pos // alignment) * alignment


def _tensor_end(t: _Tensor) -> int:
    """Offset just past the tensor's data; its start when the type is unknown to gguf-py."""
    try:
        block, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(t.type)]
    except ValueError:
        return t.offset
    rows = math.prod(t.shape[1:])
    return t.offset + (t.shape[0] if t.shape else 1) // block * block_bytes * rows


def read_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Read a GGUF file's header and work out what running it will take.

    Raises `ModelFileError` naming the file and the reason when it is missing,
    unreadable, not a GGUF, truncated, or of an architecture llama.cpp cannot load.
    """
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"Model file {p.name!r} was not found at {p}.")
    if p.is_dir():
        raise ModelFileError(f"{p.name!r} is a folder, not a model file (.gguf).")
    try:
        with p.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ModelFileError(f"Model file {p.name!r} is empty.")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                meta, arrays, tensors, data_start = _parse(buf)
    except OSError as e:
        raise ModelFileError(f"Cannot read model file {p.name!r}: {e.strerror or e}.") from e
    except _Truncated:
        raise ModelFileError(
            f"Model file {p.name!r} is truncated: its header is cut off (an incomplete download?)."
        ) from None
    except ValueError as e:
        raise ModelFileError(f"Cannot use {p.name!r}: {e}.") from None
    data_end = data_start + max((_tensor_end(t) for t in tensors), default=0)
    if data_end > size:
        raise ModelFileError(
            f"Model file {p.name!r} is truncated: its weights need {data_end:,} bytes but "
            f"the file has {size:,} (an incomplete download?)."
        )
    return _ModelReader(p, meta).build(size, arrays, tensors)


def header_size(path: str | os.PathLike[str]) -> int:
    """Where a GGUF's tensor data starts: the bytes before it are metadata and tensor infos.

    `saved_states.model_identity` hashes them to recognise a model without reading all its
    weights. Raises `ModelFileError` when the file is unreadable or not a whole GGUF header.
    """
    p = Path(path)
    try:
        with p.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(buf)[3]
    except (OSError, ValueError, _Truncated) as e:
        reason = str(e) or "its header is cut off"
        raise ModelFileError(f"Cannot read model file {p.name!r}: {reason}.") from None


class _ModelReader:
    """Turns the parsed metadata into a `ModelInfo`, with messages naming the file."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta
        self.arch = ""
        arch = self.get(gguf.Keys.General.ARCHITECTURE, str)
        if arch not in SUPPORTED_ARCHITECTURES:
            raise ModelFileError(
                f"Cannot use {path.name!r}: its architecture {arch!r} is not supported by "
                "this version of llama.cpp."
            )
        self.arch = arch

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        """The value of `key` ({arch} filled in); required unless a default is given."""
        key = key.format(arch=self.arch)
        value = self.meta.get(key)
        if value is None:
            if default is ...:
                raise ModelFileError(
                    f"Cannot use {self.path.name!r}: it lacks the required metadata key {key!r}."
                )
            return default
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok and not (kind is list and isinstance(value, int)):
            raise ModelFileError(f"Cannot use {self.path.name!r}: its {key!r} is malformed.")
        return value

    def per_layer(self, key: str, n: int, default: list[int]) -> list[int]:
        """A scalar-or-array key as one value per layer (llama.cpp's get_key_or_arr)."""
        value = self.get(key, list, None)
        if value is None:
            return default
        if isinstance(value, int):
            return [value] * n
        if len(value) < n:
            raise ModelFileError(f"Cannot use {self.path.name!r}: {key!r} is too short.")
        return [int(v) for v in value[:n]]

    def build(self, size: int, arrays: dict[str, int], tensors: list[_Tensor]) -> ModelInfo:
        K = gguf.Keys
        n_layer_all = self.get(K.LLM.BLOCK_COUNT, int)
        n_layer = n_layer_all - self.get(K.LLM.NEXTN_PREDICT_LAYERS, int, 0)
        if not 0 < n_layer <= n_layer_all <= 512:  # LLAMA_MAX_LAYERS
            raise ModelFileError(f"Cannot use {self.path.name!r}: its layer count is invalid.")
        n_embd = self.get(K.LLM.EMBEDDING_LENGTH, int)
        heads = self.per_layer(K.Attention.HEAD_COUNT, n_layer_all, [0] * n_layer_all)
        heads_kv = self.per_layer(K.Attention.HEAD_COUNT_KV, n_layer_all, heads)
        n_ff = self.per_layer(K.LLM.FEED_FORWARD_LENGTH, n_layer_all, [0] * n_layer_all)
        # llama_model_base::load_hparams: head sizes default from layer 0's head count
        head_k = self.get(K.Attention.KEY_LENGTH, int, n_embd // heads[0] if heads[0] else 0)
        head_v = self.get(K.Attention.VALUE_LENGTH, int, n_embd // heads[0] if heads[0] else 0)
        recurrent = self.recurrent_layers(n_layer, heads_kv, n_ff)
        attention = self.attention_layers(recurrent, n_ff)
        kv_elements = sum((head_k + head_v) * heads_kv[i] for i in range(n_layer) if attention[i])
        state = self.state_elements(n_embd, heads[0], head_k) if any(recurrent) else 0
        file_type = self.get(K.General.FILE_TYPE, int, None)
        quantization = None
        if file_type in gguf.LlamaFileType._value2member_map_:
            name = gguf.LlamaFileType(file_type).name
            quantization = name.removeprefix("MOSTLY_").removeprefix("ALL_")
        vocab = arrays.get(K.Tokenizer.LIST) or self.get(K.LLM.VOCAB_SIZE, int, 0)
        return ModelInfo(
            path=self.path,
            file_size=size,
            architecture=self.arch,
            name=self.get(K.General.NAME, str, None),
            size_label=self.get(K.General.SIZE_LABEL, str, None),
            n_params=sum(math.prod(t.shape) for t in tensors),
            quantization=quantization,
            n_ctx_train=self.get(K.LLM.CONTEXT_LENGTH, int),
            n_layer=n_layer,
            n_layer_all=n_layer_all,
            n_attention_layers=sum(attention),
            n_recurrent_layers=sum(recurrent),
            n_embd=n_embd,
            n_head=max(heads[:n_layer], default=0),
            n_head_kv=max(heads_kv[:n_layer], default=0),
            n_vocab=vocab,
            kv_bytes_per_token=kv_elements * 2,
            recurrent_state_bytes=state * _STATE_BYTES * sum(recurrent),
            chat_template=self.get(K.Tokenizer.CHAT_TEMPLATE, str, None),
            bos_token_id=self.get(K.Tokenizer.BOS_ID, int, None),
            eos_token_id=self.get(K.Tokenizer.EOS_ID, int, None),
        )

    def recurrent_layers(self, n_layer: int, heads_kv: list[int], n_ff: list[int]) -> list[bool]:
        """Which trunk layers keep recurrent state, decided as src/models/<arch>.cpp does."""
        arch = self.arch
        if arch in _RECURRENT_ARCHS or arch == "falcon-h1":
            return [True] * n_layer
        if arch in _INTERVAL_DEFAULTS:
            flags = self.get(_RECURRENT_LAYERS_KEY, list, None)
            if isinstance(flags, list) and len(flags) >= n_layer:
                return [bool(f) for f in flags[:n_layer]]
            every = self.get(gguf.Keys.LLM.FULL_ATTENTION_INTERVAL, int, _INTERVAL_DEFAULTS[arch])
            if every <= 0:
                raise ModelFileError(f"Cannot use {self.path.name!r}: bad full_attention_interval.")
            return [(i + 1) % every != 0 for i in range(n_layer)]
        if arch in _HEADLESS_RECURRENT:
            # nemotron-h.cpp: layers with a feed-forward are MLP-only, neither kind
            mlp_only = arch.startswith("nemotron_h")
            return [heads_kv[i] == 0 and not (mlp_only and n_ff[i]) for i in range(n_layer)]
        return [False] * n_layer

    def attention_layers(self, recurrent: list[bool], n_ff: list[int]) -> list[bool]:
        """Which trunk layers have a KV cache (the hybrid filters in llama_model::create_memory)."""
        if self.arch == "falcon-h1":  # attention and SSM side by side in every layer
            return [True] * len(recurrent)
        if self.arch in _RECURRENT_ARCHS:
            return [False] * len(recurrent)
        mlp_only = self.arch.startswith("nemotron_h")
        return [not r and not (mlp_only and n_ff[i]) for i, r in enumerate(recurrent)]

    def state_elements(self, n_embd: int, n_head: int, head_k: int) -> int:
        """n_embd_r() + n_embd_s() from llama-hparams.cpp: f32 values per recurrent layer."""
        K, arch = gguf.Keys, self.arch
        if arch in _RWKV_ARCHS:
            shift = self.get(K.LLM.TOKEN_SHIFT_COUNT, int, 2)
            return shift * n_embd + n_embd * self.get(K.WKV.HEAD_SIZE, int)
        if arch in _SHORTCONV_ARCHS:
            return n_embd * (self.get(K.ShortConv.L_CACHE, int) - 1)
        if arch in _KDA_ARCHS:
            head = self.get(K.KDA.HEAD_DIM, int)
            d_conv = self.get(K.SSM.CONV_KERNEL, int)
            return 3 * (d_conv - 1 if d_conv > 0 else 3) * n_head * head + head * head * n_head
        if arch == "minimax-01":  # lightning attention: a head_k x head_k matrix per head
            return head_k * head_k * n_head
        # Mamba-style SSMs and Gated DeltaNet: conv over x, B and C; state d_state x d_inner
        d_conv = self.get(K.SSM.CONV_KERNEL, int)
        d_inner = self.get(K.SSM.INNER_SIZE, int)
        d_state = self.get(K.SSM.STATE_SIZE, int)
        n_group = self.get(K.SSM.GROUP_COUNT, int, 0)
        return max(d_conv - 1, 0) * (d_inner + 2 * n_group * d_state) + d_state * d_inner
