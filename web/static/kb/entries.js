"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("entry-form");
  const split = (s) => (s || "").split(",").filter(Boolean);
  const LINES = split(form.dataset.lines), DISTRICTS = split(form.dataset.districts);
  // field, label, widget: text | area | list (one per line) | csv | select | date
  const POINT_FIELDS = [
    ["id", "编号", "text"], ["line", "业务线", "select", LINES], ["item", "事项", "text"], ["item_code", "事项编码", "text"],
    ["question", "标准问", "text"], ["similar", "相似问（每行一个，至少2个）", "list"], ["answer", "答案", "area"],
    ["district", "区", "select", DISTRICTS], ["entity_types", "主体类型（逗号分隔）", "csv"], ["department", "部门", "text"],
    ["channel", "办理渠道", "text"], ["legal_basis", "依据", "text"], ["effective_from", "生效日期", "date"],
    ["expires_on", "失效日期", "date"], ["reviewed_on", "复核日期", "date"], ["tags", "标签（逗号分隔）", "csv"],
    ["queue", "坐席队列", "text"],
  ];
  const POLICY_FIELDS = [
    ["id", "编号", "text"], ["title", "标题", "text"], ["issuer", "发布机关", "text"], ["doc_number", "文号", "text"],
    ["date", "日期", "date"], ["line", "业务线", "select", LINES], ["origin", "解读对象", "text"], ["body", "正文（Markdown）", "area"],
  ];
  let current = null;  // {kind, entry (or null: not saved yet), data}

  function fieldsOf(kind) { return kind === "policy" ? POLICY_FIELDS : POINT_FIELDS; }

  function render(kind, data, isNew) {
    form.replaceChildren(...fieldsOf(kind).map(([name, label, widget, options]) => {
      const id = "f-" + name;
      let value = data[name];
      let input;
      if (widget === "area" || widget === "list") {
        input = KB.el("textarea", {id, rows: widget === "area" ? 8 : 4});
        input.value = Array.isArray(value) ? value.join("\n") : (value || "");
      } else if (widget === "select") {
        input = KB.el("select", {id}, KB.el("option", {value: ""}, "（请选择）"),
          options.map((o) => KB.el("option", {value: o}, o)));
        input.value = value || "";
      } else {
        input = KB.el("input", {id, type: widget === "date" ? "date" : "text"});
        input.value = Array.isArray(value) ? value.join(",") : (value || "");
      }
      if (name === "id" && !isNew) input.readOnly = true;
      input.dataset.widget = widget;
      input.name = name;
      return KB.el("label", {for: id}, KB.el("span", {}, label), input);
    }));
  }

  function collect() {
    const data = {};
    for (const input of form.querySelectorAll("[name]")) {
      const v = input.value.trim();
      const w = input.dataset.widget;
      if (w === "list") data[input.name] = v.split("\n").map((s) => s.trim()).filter(Boolean);
      else if (w === "csv") data[input.name] = v.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
      else if (v) data[input.name] = v;
    }
    if (current && current.data) {  // keep fields the form does not show
      for (const [k, v] of Object.entries(current.data)) if (!(k in data) && !form.querySelector(`[name="${k}"]`)) data[k] = v;
    }
    return data;
  }

  function show(kind, entry, data, title) {
    current = {kind, entry, data};
    $("editor").hidden = false;
    $("editor-title").textContent = title;
    $("editor-meta").textContent = entry
      ? `状态：${entry.status_zh} · 版本 ${entry.version} · ${entry.updated_by} 修改于 ${KB.when(entry.updated_at)}` +
        (entry.published && entry.status !== "published" && entry.status !== "retired" ? " · 线上仍为上次发布的版本" : "")
      : "尚未保存";
    $("editor-problems").replaceChildren(...(entry ? entry.problems : []).map((p) => KB.el("li", {}, p)));
    render(kind, data, !entry);
    KB.say($("editor-msg"), "");
    $("diff").hidden = true;
    history(entry ? entry.history || [] : []);
  }

  function history(revs) {
    $("history").replaceChildren(...revs.slice().reverse().map((r) => {
      const diff = r.version > 1 ? KB.el("button", {type: "button", onclick: () => showDiff(r.version - 1, r.version)}, "与上一版比较") : null;
      const restore = KB.el("button", {type: "button", onclick: () => act("restore", {version: r.version})}, "恢复此版本");
      return KB.el("li", {}, `v${r.version} ${actionName(r.action)} → ${r.status_zh} · ${r.author} · ${KB.when(r.created_at)}`,
        r.note ? ` · ${r.note}` : "", " ", diff, " ", restore);
    }));
  }

  function actionName(a) {
    return {create: "新建", edit: "修改", review: "审核", publish: "发布", retire: "下线", restore: "恢复", import: "导入"}[a] || a;
  }

  async function showDiff(oldV, newV) {
    const {ok, data} = await KB.api("GET", `/api/kb/entries/${encodeURIComponent(current.entry.id)}/diff?old=${oldV}&new=${newV}`);
    if (!ok) { KB.say($("editor-msg"), data.message, "error"); return; }
    const lines = data.diff.length ? data.diff : ["（内容没有变化，只有状态变化）"];
    $("diff").replaceChildren(...lines.map((line) =>
      KB.el("span", {class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : ""}, line + "\n")));
    $("diff").hidden = false;
  }

  async function openEntry(id) {
    const {ok, data} = await KB.api("GET", `/api/kb/entries/${encodeURIComponent(id)}`);
    if (ok) { show(data.kind, data, data.data, `${data.id}`); return true; }
    return false;
  }

  async function openServed(id) {
    if (await openEntry(id)) return;
    const {ok, data} = await KB.api("GET", `/api/kb/served/${encodeURIComponent(id)}`);
    if (!ok) { KB.say($("list-msg"), data.message || "找不到该知识点", "error"); return; }
    show("point", null, data.served, `${id}（线上版本，保存后成为草稿）`);
  }

  async function save() {
    const data = collect();
    const res = current.entry
      ? await KB.api("POST", `/api/kb/entries/${encodeURIComponent(current.entry.id)}`, {data, version: current.entry.version})
      : await KB.api("POST", "/api/kb/entries", {kind: current.kind, data});
    if (!res.ok) { KB.say($("editor-msg"), res.data.message || "保存失败", "error"); return; }
    await openEntry(res.data.id);
    KB.say($("editor-msg"), "已保存为草稿", "ok");
    loadList();
  }

  async function act(action, body) {
    if (!current || !current.entry) { KB.say($("editor-msg"), "请先保存草稿", "error"); return; }
    const res = await KB.api("POST", `/api/kb/entries/${encodeURIComponent(current.entry.id)}/${action}`, body || {});
    if (!res.ok) { KB.say($("editor-msg"), res.data.message || "操作失败", "error"); return; }
    await openEntry(current.entry.id);
    KB.say($("editor-msg"), action === "publish" || action === "retire" ? "已完成。重建索引后对用户生效。" : "已完成", "ok");
    loadList();
    indexStatus();
  }

  async function loadList() {
    const params = new URLSearchParams({q: $("q").value, status: $("status").value});
    const {ok, data} = await KB.api("GET", "/api/kb/entries?" + params);
    if (!ok) { KB.say($("list-msg"), data.message, "error"); return; }
    KB.say($("list-msg"), data.entries.length ? "" : "没有符合条件的条目。已发布的 YAML 知识点可用上方“打开已发布知识点”编辑。");
    $("entries").replaceChildren(...data.entries.map((e) => KB.el("tr", {class: "st-" + e.status},
      KB.el("td", {}, KB.el("a", {href: "#edit=" + encodeURIComponent(e.id)}, e.id)), KB.el("td", {}, e.title),
      KB.el("td", {}, e.status_zh + (e.problems.length ? "（不完整）" : "")),
      KB.el("td", {}, `${e.updated_by} ${KB.when(e.updated_at)}`))));
  }

  let polling = null;
  async function indexStatus() {
    const {ok, data} = await KB.api("GET", "/api/kb/index");
    if (!ok) return;
    const state = data.building ? "正在重建…" : data.stale ? "有已发布的修改尚未生效，请重建索引" : "已是最新";
    $("index-text").textContent = `线上索引 ${data.serving}（${data.knowledge_points} 个知识点）· ${state}` +
      (data.swap_error ? ` · 加载新索引失败：${data.swap_error}` : "");
    $("rebuild").disabled = data.building;
    clearTimeout(polling);
    if (data.building) polling = setTimeout(indexStatus, 3000);
  }

  $("rebuild").addEventListener("click", async () => {
    const {data} = await KB.api("POST", "/api/kb/index/rebuild");
    $("index-text").textContent = data.message || "";
    setTimeout(indexStatus, 1000);
  });
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); loadList(); });
  $("open").addEventListener("submit", (ev) => { ev.preventDefault(); const id = $("open-id").value.trim(); if (id) openServed(id); });
  $("new-point").addEventListener("click", () => show("point", null, {district: "全市", entity_types: ["全部"]}, "新建知识点"));
  $("save").addEventListener("click", save);
  for (const b of document.querySelectorAll("[data-action]")) b.addEventListener("click", () => act(b.dataset.action));
  function fromHash() {
    const m = location.hash.match(/^#edit=(.+)$/);
    if (m) openServed(decodeURIComponent(m[1]));
  }
  window.addEventListener("hashchange", fromHash);
  loadList();
  indexStatus();
  fromHash();
})();
