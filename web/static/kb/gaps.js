"use strict";
(() => {
  const $ = (id) => document.getElementById(id);

  async function load() {
    const params = new URLSearchParams({days: $("days").value});
    if ($("channel").value) params.set("channel", $("channel").value);
    KB.say($("msg"), "加载中…");
    const {ok, data} = await KB.api("GET", "/api/kb/gaps?" + params);
    if (!ok) { KB.say($("msg"), data.message || "加载失败", "error"); return; }
    KB.say($("msg"), data.gaps.length ? `${data.start} 至 ${data.end}，共 ${data.gaps.length} 组` : "这段时间没有未解答的问题。");
    $("gaps").replaceChildren(...data.gaps.map(row));
  }

  function row(gap) {
    const result = KB.el("div", {class: "kb-inline"});
    const others = gap.examples.filter((e) => e !== gap.text);
    const draft = KB.el("button", {type: "button", class: "primary", onclick: async () => {
      draft.disabled = true;
      const {ok, data} = await KB.api("POST", "/api/kb/gaps/draft", {text: gap.text, examples: gap.examples});
      draft.disabled = false;
      if (!ok) { result.replaceChildren(KB.el("span", {class: "error"}, data.message)); return; }
      result.replaceChildren("已新建草稿 ", KB.el("a", {href: "/kb#edit=" + encodeURIComponent(data.id)}, data.id),
        "，请补充答案后审核、发布。");
    }}, "新建知识点");
    const similar = KB.el("button", {type: "button", onclick: async () => {
      const {ok, data} = await KB.api("GET", "/api/kb/search?k=5&q=" + encodeURIComponent(gap.text));
      if (!ok) { result.replaceChildren(KB.el("span", {class: "error"}, data.message)); return; }
      const points = data.results.filter((r) => r.kind === "kp");
      if (!points.length) { result.replaceChildren("没有找到相近的知识点，请新建。"); return; }
      result.replaceChildren(KB.el("span", {}, "加到哪个知识点？"), ...points.map((p) =>
        KB.el("button", {type: "button", class: "choice", onclick: () => addSimilar(p, gap.text, result)},
          `${p.id} ${p.title}`)));
    }}, "加为相似问");
    if (gap.entries && gap.entries.length) {
      result.append("已在处理：", ...gap.entries.map((id) => KB.el("a", {href: "/kb#edit=" + encodeURIComponent(id)}, id + " ")));
    }
    return KB.el("tr", {},
      KB.el("td", {}, gap.text), KB.el("td", {class: "num"}, gap.count), KB.el("td", {}, others.join(" / ")),
      KB.el("td", {}, KB.when(gap.last_seen)), KB.el("td", {}, draft, " ", similar, result));
  }

  async function addSimilar(point, text, result) {
    const {ok, data} = await KB.api("POST", `/api/kb/entries/${encodeURIComponent(point.id)}/similar`, {phrasing: text});
    if (!ok) { result.replaceChildren(KB.el("span", {class: "error"}, data.message)); return; }
    result.replaceChildren("已加入 ", KB.el("a", {href: "/kb#edit=" + encodeURIComponent(data.id)}, data.id),
      " 的相似问（草稿），审核、发布后生效。");
  }

  $("filter").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  load();
})();
