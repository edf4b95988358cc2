"use strict";
// Shared by the knowledge pages: JSON calls with the session's CSRF token; DOM building comes from dom.js.
const KB = (() => {
  let csrf = null;

  const {el, toLogin} = DOM;

  async function token() {
    if (csrf) return csrf;
    const r = await fetch("/api/agent/me", {credentials: "same-origin"});
    if (r.status === 401) { toLogin(); throw new Error("请先登录"); }
    csrf = (await r.json()).csrf_token;
    return csrf;
  }

  async function api(method, url, body, isForm) {
    const headers = {};
    let payload;
    if (method !== "GET") headers["X-CSRF-Token"] = await token();
    if (body !== undefined) {
      if (isForm) payload = body;
      else { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    }
    const r = await fetch(url, {method, headers, body: payload, credentials: "same-origin"});
    if (r.status === 401) { toLogin(); throw new Error("登录已过期"); }
    let data;
    try { data = await r.json(); } catch (e) { data = {message: "服务器返回了无法解析的响应（HTTP " + r.status + "）"}; }
    return {ok: r.ok, status: r.status, data};
  }

  function say(target, text, kind) {
    target.textContent = text || "";
    target.className = "kb-msg" + (kind ? " " + kind : "");
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString("zh-CN", {hour12: false});
  }

  return {api, el, say, when};
})();
