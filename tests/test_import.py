"""`hotline import` and the upload page: every format, broken files with clear reports, nothing partial."""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from kb.importer import Existing, build_report
from kb.loader import load_corpus
from tests.conftest import TINY_KB, make_config

DATA = Path(__file__).parent / "data" / "import"
POLICY_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "policy_corpus"


def tiny_existing() -> Existing:
    return Existing.from_corpus(load_corpus(TINY_KB), [])


def report_for(*paths: Path) -> dict:
    return build_report(list(paths), tiny_existing()).as_json()


def make_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF whose text is extractable: a Type0 font with Identity-H codes (UTF-16BE); no font file
    is needed to extract text. With no lines the page is blank (a scanned page has no text either)."""
    ops = ["BT /F1 12 Tf 50 800 Td"] + [f"<{line.encode('utf-16-be').hex()}> Tj 0 -20 Td" for line in lines] + ["ET"]
    content = "\n".join(ops).encode() if lines else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H /DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def by_status(report: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in report["rows"]:
        out.setdefault(row["status"], []).append(row)
    return out


# --- formats ------------------------------------------------------------------------------------------------
def test_csv_template_rows_are_read_validated_and_given_ids():
    report = report_for(DATA / "points.csv")
    assert report["ok"] and report["counts"]["accepted"] == 3 and report["issues"] == []
    rows = build_report([DATA / "points.csv"], tiny_existing()).outcomes
    first, nansha, gjj = (r.data for r in rows)
    assert first["id"] == "T-ZX-006" and first["item_code"] == "T-ZX"  # the existing item of that name
    assert first["similar"] == ["歇业备案几天能办好", "歇业要等多久"] and first["effective_from"] == "2022-03-01"
    assert nansha["id"] == "T-ZX-007" and nansha["district"] == "南沙" and nansha["effective_from"] == "2022-10-01"
    assert nansha["similar"] == ["南沙个体户歇业在哪办", "南沙歇业备案窗口"] and nansha["entity_types"] == ["个体工商户"]
    assert gjj["id"] == "T-GJJ-003" and "district" not in gjj  # empty cell: the loader's default (全市)


def test_xlsx_with_header_variants_and_real_date_cells(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["标准问题", "相似问题（用|分隔）", "标准答案", "业务条线", "服务事项", "所属区", "政策依据", "生效时间", "坐标"])
    sheet.append(["注销前要先清税吗？", "注销要不要先去税务局\n注销前清税吗", "企业注销前应先办理清税，取得清税证明。",
                  "商事登记", "注销登记", "天河区", "《中华人民共和国税收征收管理法实施细则》第十五条",
                  datetime(2022, 3, 1), "无关"])
    book.save(tmp_path / "kb.xlsx")
    report = report_for(tmp_path / "kb.xlsx")
    assert report["ok"] and report["counts"]["accepted"] == 1
    assert any("坐标" in i["message"] and i["severity"] == "warning" for i in report["issues"])
    data = build_report([tmp_path / "kb.xlsx"], tiny_existing()).outcomes[0].data
    assert data["district"] == "天河" and data["effective_from"] == "2022-03-01" and len(data["similar"]) == 2


def test_jsonl_points_with_either_field_names():
    report = report_for(DATA / "points.jsonl")
    assert report["ok"] and [r["id"] for r in report["rows"]] == ["T-ZX-006", "T-GJJ-003"]


def test_markdown_with_and_without_front_matter():
    report = report_for(DATA / "policy_front.md", DATA / "policy_plain(2022-03-01).md")
    assert report["ok"] and report["counts"]["accepted"] == 2
    docs = [o.data for o in build_report([DATA / "policy_front.md", DATA / "policy_plain(2022-03-01).md"],
                                         tiny_existing()).outcomes]
    assert docs[0]["id"] == "PD-T9" and docs[0]["origin"] == "《促进个体工商户发展条例》" and docs[0]["date"] == "2022-10-01"
    plain = docs[1]
    assert plain["title"] == "市场主体歇业办事指南" and plain["date"] == "2022-03-01" and plain["line"] == "商事登记"
    assert plain["issuer"] == "广州市人民政府" and plain["body"].lstrip().startswith("2022年3月1日")


def test_word_document_becomes_a_policy(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("社会保险登记办事指南", level=1)
    document.add_paragraph("2023年8月16日 国务院发布")
    document.add_heading("一、登记时限", level=2)
    document.add_paragraph("用人单位应当自成立之日起30日内申请办理社会保险登记。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "办理渠道"
    table.rows[0].cells[1].text = "广东政务服务网"
    document.save(tmp_path / "guide.docx")
    report = report_for(tmp_path / "guide.docx")
    assert report["ok"], report
    data = build_report([tmp_path / "guide.docx"], tiny_existing()).outcomes[0].data
    assert data["title"] == "社会保险登记办事指南" and data["line"] == "社保" and data["date"] == "2023-08-16"
    assert "## 一、登记时限" in data["body"] and "办理渠道；广东政务服务网" in data["body"]


def test_pdf_with_text_and_pdf_without_text(tmp_path):
    make_pdf(tmp_path / "rules.pdf", ["住房公积金提取须知", "2019年3月24日 国务院发布", "第一章 总则",
                                      "第一条 职工购买自住住房的，可以提取住房公积金账户内的存储余额。"])
    report = report_for(tmp_path / "rules.pdf")
    assert report["ok"], report
    data = build_report([tmp_path / "rules.pdf"], tiny_existing()).outcomes[0].data
    assert data["title"] == "住房公积金提取须知" and data["line"] == "公积金" and "## 第一章 总则" in data["body"]
    make_pdf(tmp_path / "scan.pdf", [])
    scan = report_for(tmp_path / "scan.pdf")
    assert not scan["ok"] and scan["rows"] == []
    assert "没有可提取的文字" in scan["issues"][0]["message"] and "OCR" in scan["issues"][0]["message"]


# --- broken files -------------------------------------------------------------------------------------------
def test_bad_rows_are_reported_by_row_and_nothing_is_importable():
    report = report_for(DATA / "bad_rows.csv")
    assert not report["ok"]
    rejected = {r["row"]: "；".join(r["reasons"]) for r in report["rows"] if r["status"] == "rejected"}
    assert set(rejected) == {3, 4, 5}
    assert "区：未知取值 '天和区'，可选：全市、越秀" in rejected[3]
    assert "生效日期：日期格式错误 '2024-13-01'，应为 YYYY-MM-DD" in rejected[4]
    assert "答案：缺失或为空" in rejected[5]
    assert [r["row"] for r in report["rows"] if r["status"] == "accepted"] == [2]  # valid, but not imported alone


def test_wrong_columns_empty_and_header_only_files():
    wrong = report_for(DATA / "wrong_columns.csv")
    messages = " ".join(i["message"] for i in wrong["issues"])
    assert not wrong["ok"] and "缺少必需的列：答案" in messages and "问题、扩展问、备注" in messages
    assert any("备注" in i["message"] and i["severity"] == "warning" for i in wrong["issues"])
    empty = report_for(DATA / "empty.csv")
    assert not empty["ok"] and "文件为空" in empty["issues"][0]["message"]
    header = report_for(DATA / "header_only.csv")
    assert not header["ok"] and "没有数据行" in header["issues"][0]["message"]
    broken = report_for(DATA / "broken.jsonl")
    assert not broken["ok"] and any(r["row"] == 2 and "JSON" in r["reasons"][0] for r in broken["rows"])
    unknown = report_for(DATA / "points.csv", Path("/nonexistent/notes.txt"))
    assert not unknown["ok"] and "不支持的文件类型 .txt" in unknown["issues"][0]["message"]


def test_a_50_mb_file_is_refused_without_being_read(tmp_path):
    big = tmp_path / "big.csv"
    with big.open("wb") as out:
        out.write("标准问,相似问,答案,业务线,事项,生效日期\n".encode())
        out.truncate(50 * 1024 * 1024)
    t0 = time.perf_counter()
    report = report_for(big)
    elapsed = time.perf_counter() - t0
    assert not report["ok"] and "文件过大：50.0 MB" in report["issues"][0]["message"] and "20 MB" in report["issues"][0]["message"]
    assert elapsed < 1.0


def test_duplicates_near_duplicates_and_conflicts_with_existing_points(tmp_path):
    seed = load_corpus(TINY_KB).by_id
    rows = [
        {"标准问": seed["T-ZX-001"].question, "答案": seed["T-ZX-001"].answer},  # the same point again
        {"标准问": seed["T-ZX-003"].question, "答案": "简易注销公示期为20日，公示期满无异议即可申请。"},  # other answer
        {"标准问": "有限责任公司注销登记需要准备哪些材料？", "答案": "有限公司注销需要申请书、清算报告、清税证明等材料。"},
        {"标准问": "南沙的公司去哪里注销", "答案": "南沙区企业到南沙区政务服务中心办理注销。"},  # a seed's similar question
        {"标准问": "歇业备案要多久？", "答案": "即时办结。"},
        {"标准问": "歇业备案要多久？", "答案": "当场办结。"},  # repeats the row above
    ]
    with (tmp_path / "mixed.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps({**row, "相似问": f"{row['标准问']}呀|{row['标准问']}呢", "业务线": "商事登记",
                                  "事项": "注销登记", "生效日期": "2022-03-01"}, ensure_ascii=False) + "\n")
    report = report_for(tmp_path / "mixed.jsonl")
    status = [(r["status"], r["match"]) for r in report["rows"]]
    assert status[0] == ("duplicate", "T-ZX-001")
    assert status[1] == ("conflict", "T-ZX-003") and report["rows"][1]["mode"] == "update"
    assert status[2] == ("near_duplicate", "T-ZX-001") and "相似度" in report["rows"][2]["reasons"][0]
    assert status[3] == ("near_duplicate", "T-ZX-004") and "相似问相同" in report["rows"][3]["reasons"][0]
    assert status[4][0] == "accepted" and status[5][0] == "rejected" and "第5行" in report["rows"][5]["reasons"][0]


# --- applying: command line and the upload page -------------------------------------------------------------
@pytest.fixture()
def cli_env(tmp_path, monkeypatch, database_url):
    for key, value in {"HOTLINE_VAR_DIR": str(tmp_path / "var"), "HOTLINE_KB_DIR": str(TINY_KB),
                       "HOTLINE_EMBEDDER": "fake", "HOTLINE_CALIBRATION": "none", "DATABASE_URL": database_url}.items():
        monkeypatch.setenv(key, value)
    from web.kb_store import open_store

    store = open_store(make_config(tmp_path / "var", database_url=database_url))
    yield store
    store.close()


def run_cli(capsys, *args: str) -> tuple[int, dict]:
    from hotline.cli import main

    code = main(["import", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_imports_all_or_nothing(cli_env, capsys):
    code, body = run_cli(capsys, str(DATA / "bad_rows.csv"), "--yes")
    assert code == 1 and body["imported"] is None and cli_env.entries() == []
    code, body = run_cli(capsys, str(DATA / "points.csv"))  # a check only: nothing changes without --yes
    assert code == 0 and body["imported"] is None and cli_env.entries() == []
    code, body = run_cli(capsys, str(DATA / "points.csv"), "--yes", "--by", "importer")
    assert code == 0 and body["imported"] == ["T-ZX-006", "T-ZX-007", "T-GJJ-003"]
    entries = {e["id"]: e for e in cli_env.entries()}
    assert {e["status"] for e in entries.values()} == {"draft"} and entries["T-ZX-006"]["created_by"] == "importer"
    assert cli_env.history("T-ZX-006")[0]["action"] == "import"
    code, body = run_cli(capsys, str(DATA / "points.csv"), "--yes")  # again: the drafts are found as duplicates
    assert code == 0 and body["report"]["counts"]["duplicate"] == 3 and body["imported"] is None


def test_an_import_is_one_transaction(cli_env):
    from web.service import ChatInputError

    ok = {"id": "T-ZX-006", "line": "商事登记", "item": "注销登记", "item_code": "T-ZX", "question": "问一？",
          "similar": ["甲", "乙"], "answer": "答一。", "effective_from": "2022-03-01"}
    with pytest.raises(ChatInputError):
        cli_env.import_records([("point", ok, "new"), ("point", {**ok, "question": "问二？"}, "new")], "x", "draft", "")
    assert cli_env.entries() == []


@pytest.mark.skipif(not POLICY_CORPUS.is_dir(), reason="../shared/policy_corpus is not present")
def test_importing_the_shared_policy_corpus(cli_env, capsys):
    code, body = run_cli(capsys, str(POLICY_CORPUS), "--yes", "--as", "published")
    statutes = sorted(p for p in POLICY_CORPUS.glob("*.md") if p.name != "README.md")
    assert code == 0 and len(body["imported"]) == len(statutes) >= 16
    assert any("README.md" in i["file"] and i["severity"] == "warning" for i in body["report"]["issues"])
    entries = cli_env.entries()
    assert {e["status"] for e in entries} == {"published"} and {e["kind"] for e in entries} == {"policy"}
    company_law = next(e["data"] for e in entries if e["data"]["title"] == "中华人民共和国公司法")
    assert company_law["date"] == "2023-12-29" and company_law["issuer"] == "全国人民代表大会常务委员会"
    assert "第一条" in company_law["body"] and "INFO END" not in company_law["body"]
    code, body = run_cli(capsys, str(POLICY_CORPUS), "--yes")
    assert code == 0 and body["report"]["counts"]["duplicate"] == len(statutes) and body["imported"] is None


@pytest.mark.skipif(not POLICY_CORPUS.is_dir(), reason="../shared/policy_corpus is not present")
def test_imported_statutes_are_indexed_and_retrievable(cli_env, capsys, tmp_path):
    from hotline.cli import main

    run_cli(capsys, str(POLICY_CORPUS / "住房公积金管理条例(2019-03-24).md"), "--yes", "--as", "published")
    assert main(["index"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["policy_documents"] == 2 and built["editorial_entries"] == 1
    assert main(["index", "--if-stale"]) == 0 and "up to date" in capsys.readouterr().out
    assert main(["kb", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["policy_documents"] == 2  # what is served, published entries included


def test_upload_page_reports_then_confirms(client, app):
    app.extensions["agent_service"].add_agent("editor2", "editor-pass-2", [], role="editor")
    csrf = client.post("/api/agent/login", json={"username": "editor2", "password": "editor-pass-2"}).json["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    with (DATA / "bad_rows.csv").open("rb") as bad:
        refused = client.post("/api/kb/import", data={"files": [(bad, "bad_rows.csv")]}, headers=headers)
    assert refused.status_code == 200 and refused.json["token"] is None and not refused.json["report"]["ok"]
    with (DATA / "points.csv").open("rb") as good, (DATA / "policy_front.md").open("rb") as doc:
        checked = client.post("/api/kb/import", data={"files": [(good, "知识点.csv"), (doc, "policy_front.md")]},
                              headers=headers)
    body = checked.json
    assert body["token"] and body["report"]["counts"]["accepted"] == 4 and body["report"]["files"][0] == "知识点.csv"
    assert client.get("/api/kb/entries").json["entries"] == []  # nothing before the confirmation
    assert client.post(f"/api/kb/import/{body['token']}/confirm").status_code == 403  # CSRF header missing
    done = client.post(f"/api/kb/import/{body['token']}/confirm", headers=headers)
    assert done.status_code == 200 and len(done.json["imported"]) == 4
    assert len(client.get("/api/kb/entries").json["entries"]) == 4
    again = client.post(f"/api/kb/import/{body['token']}/confirm", headers=headers)
    assert again.status_code == 404


def test_the_downloadable_template_imports_cleanly(client, app, tmp_path):
    app.extensions["agent_service"].add_agent("editor4", "editor-pass-4", [], role="editor")
    assert client.get("/kb/import/template.csv").status_code == 401
    client.post("/api/agent/login", json={"username": "editor4", "password": "editor-pass-4"})
    (tmp_path / "template.csv").write_bytes(client.get("/kb/import/template.csv").data)
    report = report_for(tmp_path / "template.csv")
    assert report["ok"] and report["counts"]["accepted"] == 1 and report["issues"] == []


def test_upload_of_50_mb_is_refused_with_a_clear_message(client, app):
    app.extensions["agent_service"].add_agent("editor3", "editor-pass-3", [], role="editor")
    csrf = client.post("/api/agent/login", json={"username": "editor3", "password": "editor-pass-3"}).json["csrf_token"]
    boundary = "----hotline-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + b"x" * (50 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/api/kb/import", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                           headers={"X-CSRF-Token": csrf})
    assert response.status_code == 413 and response.json["error"] == "file_too_large"
    assert "上限 20 MB" in response.json["message"]
