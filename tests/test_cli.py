"""The `hotline` command line through its real entry point."""
import json
import os
import subprocess
import sys

import pytest

from hotline.cli import main
from tests.conftest import TINY_KB

CONTRACT_KEYS = {"session_id", "type", "reply", "sources", "suggestions", "handoff", "confidence"}


@pytest.fixture()
def env(tiny_index, monkeypatch, tmp_path):
    values = {"HOTLINE_VAR_DIR": str(tiny_index.var_dir), "HOTLINE_KB_DIR": str(TINY_KB), "HOTLINE_EMBEDDER": "fake",
              "HOTLINE_CALIBRATION": "none", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_ask_json_prints_exactly_the_chat_response(env, capsys):
    assert main(["ask", "简易注销要公示多久", "--json"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert set(response) == CONTRACT_KEYS
    assert response["type"] == "answer" and response["sources"][0]["id"] == "T-ZX-003"


def test_ask_keeps_the_session_across_calls(env, capsys):
    main(["ask", "有限责任公司注销登记需要哪些材料？", "--json"])
    first = json.loads(capsys.readouterr().out)
    main(["ask", "那个体户呢？", "--session", first["session_id"], "--json"])
    second = json.loads(capsys.readouterr().out)
    assert second["session_id"] == first["session_id"] and second["sources"][0]["id"] == "T-ZX-002"


@pytest.mark.parametrize("question, message", [("   ", "empty"), ("问" * 10000, "limit is 2000")])
def test_ask_refuses_bad_input_with_a_clear_error(env, capsys, question, message):
    assert main(["ask", question]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_kb_stats_json_matches_contract(env, capsys):
    assert main(["kb", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats == {"knowledge_points": 7, "service_items": 2, "policy_documents": 1,
                     "by_line": {"商事登记": 5, "公积金": 2}, "by_district": {"全市": 6, "南沙": 1}}


def test_index_reports_counts_and_rebuilds_only_when_stale(env, tmp_path, capsys):
    out = tmp_path / "idx"
    assert main(["index", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["knowledge_points"] == 7 and report["policy_chunks"] >= 1 and "total" in report["seconds"]
    assert main(["index", "--out", str(out), "--if-stale"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_index_refuses_a_broken_corpus_and_keeps_the_served_index(env, kb_copy, tmp_path, capsys):
    out = tmp_path / "idx"
    assert main(["index", "--kb", str(kb_copy), "--out", str(out)]) == 0
    served = (out / "current").resolve()
    (kb_copy / "公积金" / "open.yaml").write_text("item: {code: X}\npoints: []\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["index", "--kb", str(kb_copy), "--out", str(out)]) == 1
    assert "index not built" in capsys.readouterr().err
    assert (out / "current").resolve() == served


def test_console_script_runs_without_traceback(env):
    exe = os.path.join(os.path.dirname(sys.executable), "hotline")
    result = subprocess.run([exe, "ask", "你好", "--json"], capture_output=True, text=True, env={**os.environ, **env},
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["type"] == "chitchat"
