"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let token = null;

  function show(report) {
    $("report").hidden = false;
    const c = report.counts;
    $("counts").textContent = `可导入 ${c.accepted} 条，疑似重复 ${c.near_duplicate} 条，与现有答案冲突 ${c.conflict} 条（作为修订草稿），` +
      `完全重复 ${c.duplicate} 条（跳过），有错误 ${c.rejected} 条。`;
    $("issues").replaceChildren(...report.issues.map((i) =>
      KB.el("li", {class: i.severity}, `${i.severity === "error" ? "错误" : "提示"}：${i.file}：${i.message}`)));
    $("rows").replaceChildren(...report.rows.map((r) => KB.el("tr", {class: "st-" + r.status},
      KB.el("td", {}, r.file), KB.el("td", {}, r.row), KB.el("td", {}, r.id || "—"), KB.el("td", {}, r.title),
      KB.el("td", {}, r.status_zh), KB.el("td", {}, r.reasons.join("；")))));
  }

  $("upload").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = $("files").files;
    if (!files.length) { KB.say($("msg"), "请选择文件", "error"); return; }
    const form = new FormData();
    for (const f of files) form.append("files", f);
    form.append("status", $("as").value);
    KB.say($("msg"), "正在检查…");
    $("confirm").hidden = true;
    const {ok, data} = await KB.api("POST", "/api/kb/import", form, true);
    if (!ok) { KB.say($("msg"), data.message || "检查失败", "error"); $("report").hidden = true; return; }
    token = data.token;
    show(data.report);
    if (token) {
      KB.say($("msg"), "检查通过。确认后将一次性导入（任何一条失败则全部不导入）。", "ok");
      $("confirm").hidden = false;
    } else if (data.report.ok) {
      KB.say($("msg"), "没有需要导入的新内容。");
    } else {
      KB.say($("msg"), "存在错误，未导入任何内容。请修改文件后重新上传。", "error");
    }
  });

  $("confirm").addEventListener("click", async () => {
    if (!token) return;
    $("confirm").disabled = true;
    const {ok, data} = await KB.api("POST", `/api/kb/import/${token}/confirm`);
    $("confirm").disabled = false;
    if (ok) {
      token = null;
      $("confirm").hidden = true;
      KB.say($("msg"), `已导入 ${data.imported.length} 条。到“知识条目”审核、发布，并重建索引后生效。`, "ok");
    } else {
      if (data.report) show(data.report);
      KB.say($("msg"), data.message || "导入失败，未写入任何内容", "error");
    }
  });
})();
