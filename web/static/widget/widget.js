/* 广州12345企业服务 web chat widget.
 * Embed: <script src="https://HOST/widget.js" data-title="广州12345企业服务" data-color="#c8102e"></script>
 * Optional: data-hot="问题一|问题二" (hot questions), data-welcome="…", data-api="https://HOST" (API origin).
 * Everything lives in a Shadow DOM so the host page is never restyled; every text goes through textContent. */
(() => {
  "use strict";
  const me = document.currentScript ||
    Array.from(document.querySelectorAll("script[src]")).find((s) => /\/widget\.js(?:[?#]|$)/.test(s.src));
  if (!me || window.__gz12345Widget) return;
  window.__gz12345Widget = {};  // a second copy of the script on the same page does nothing

  const DEFAULT_HOT = ["有限公司注销要准备什么资料", "个体户怎么注销", "新公司多久要开公积金账户", "公积金交多少比例",
    "简易注销要公示多久"];
  const data = me.dataset;
  const base = new URL(me.src, location.href).origin;
  const opts = {
    api: (data.api || base).replace(/\/+$/, ""),
    title: data.title || "广州12345企业服务",
    color: data.color && window.CSS && CSS.supports("color", data.color) ? data.color : "#c8102e",
    welcome: data.welcome || "您好！我是广州12345企业服务智能助手，可以解答企业开办、变更、注销，住房公积金、社保、税务等问题。请直接输入您的问题，或点选下面的热门问题。",
    hot: (data.hot ? data.hot.split("|") : DEFAULT_HOT).map((s) => s.trim()).filter(Boolean).slice(0, 8),
  };
  const POLL_MS = 2000;
  const STORE_KEY = "gz12345-widget:" + opts.api;
  const REASONS = { rate_limited: "发送过于频繁，请稍后再试。您输入的内容已保留。" };
  const CSS_TEXT = `
:host { all: initial; }
* { box-sizing: border-box; }
.root { font: 14px/1.5 "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
  color: #1f2328; --c: var(--gz-color, #c8102e); }
button { font: inherit; cursor: pointer; }
button:focus-visible, textarea:focus-visible, summary:focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 28px;
  background: var(--c); color: #fff; padding: 12px 18px; box-shadow: 0 4px 16px rgba(0,0,0,.25); font-size: 15px; }
.launcher .badge { display: inline-block; min-width: 18px; margin-left: 6px; padding: 0 5px; border-radius: 9px;
  background: #fff; color: var(--c); font-size: 12px; text-align: center; }
.launcher[hidden], .badge[hidden] { display: none; }
.panel { position: fixed; right: 20px; bottom: 20px; z-index: 2147483001; width: 380px; height: min(620px, calc(100vh - 40px));
  display: flex; flex-direction: column; background: #fff; border-radius: 12px; overflow: hidden;
  box-shadow: 0 8px 32px rgba(0,0,0,.28); }
.panel[hidden] { display: none; }
.head { background: var(--c); color: #fff; padding: 10px 12px; display: flex; align-items: center; gap: 8px; }
.head .titles { flex: 1; min-width: 0; }
.head h2 { margin: 0; font-size: 16px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.head .status { font-size: 12px; opacity: .92; }
.head button { background: rgba(255,255,255,.18); color: #fff; border: 1px solid rgba(255,255,255,.5); border-radius: 6px;
  padding: 4px 8px; font-size: 13px; white-space: nowrap; }
.head button:disabled { opacity: .5; cursor: default; }
.head .close { font-size: 18px; line-height: 1; padding: 4px 9px; }
.log { flex: 1; overflow-y: auto; padding: 12px; background: #f5f6f8; display: flex; flex-direction: column; gap: 10px; }
.msg { max-width: 86%; padding: 8px 11px; border-radius: 10px; white-space: pre-wrap; word-break: break-word; }
.msg.user { align-self: flex-end; background: var(--c); color: #fff; border-bottom-right-radius: 3px; }
.msg.user.pending { opacity: .6; }
.msg.bot, .msg.agent, .welcome { align-self: flex-start; background: #fff; border: 1px solid #e3e5e8; border-bottom-left-radius: 3px; }
.msg.agent { border-color: #9cc3f5; background: #eef5ff; }
.who { display: block; font-size: 12px; color: #57606a; margin-bottom: 2px; }
.notice { align-self: center; max-width: 92%; font-size: 12px; color: #57606a; background: #eceef1; border-radius: 10px;
  padding: 4px 10px; text-align: center; white-space: pre-wrap; }
.source { margin-top: 6px; font-size: 12px; color: #57606a; border-top: 1px dashed #d0d7de; padding-top: 4px; }
.source summary { cursor: pointer; }
.source p { margin: 4px 0 0; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.chips .label { width: 100%; font-size: 12px; color: #57606a; }
.chip { border: 1px solid var(--c); color: var(--c); background: #fff; border-radius: 14px; padding: 3px 10px; font-size: 13px;
  text-align: left; }
.chip:hover { background: #fff5f5; }
.fb { margin-top: 6px; display: flex; gap: 6px; align-items: center; font-size: 12px; color: #57606a; }
.fb button { border: 1px solid #d0d7de; background: #fff; border-radius: 12px; padding: 1px 9px; font-size: 12px; color: #57606a; }
.fb button[aria-pressed="true"] { border-color: var(--c); color: var(--c); }
.fb button:disabled { cursor: default; }
.rating { align-self: center; background: #fff; border: 1px solid #e3e5e8; border-radius: 10px; padding: 8px 10px; text-align: center; }
.rating .stars { display: flex; gap: 4px; justify-content: center; margin-top: 6px; }
.rating .stars button { border: 1px solid #d0d7de; background: #fff; border-radius: 6px; padding: 2px 8px; color: #b26b00; }
.typing { align-self: flex-start; background: #fff; border: 1px solid #e3e5e8; border-radius: 10px; padding: 8px 12px; }
.typing span { display: inline-block; width: 6px; height: 6px; margin: 0 2px; border-radius: 50%; background: #8c959f;
  animation: blink 1.2s infinite; }
.typing span:nth-child(2) { animation-delay: .2s; } .typing span:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
.alert { background: #fff4e5; color: #7a4100; border-top: 1px solid #f0c36d; padding: 6px 10px; font-size: 13px;
  display: flex; gap: 8px; align-items: center; }
.alert[hidden] { display: none; }
.alert span { flex: 1; }
.alert button { border: 1px solid #b26b00; color: #7a4100; background: #fff; border-radius: 6px; padding: 2px 8px; font-size: 12px; }
.compose { display: flex; gap: 8px; padding: 8px; border-top: 1px solid #e3e5e8; background: #fff; }
.compose textarea { flex: 1; resize: none; height: 40px; max-height: 96px; border: 1px solid #d0d7de; border-radius: 8px;
  padding: 8px; font: inherit; color: inherit; }
.compose .send { border: 0; background: var(--c); color: #fff; border-radius: 8px; padding: 0 14px; }
.compose .send:disabled { opacity: .55; cursor: default; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 480px) {
  .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; }
  .launcher { right: 12px; bottom: 12px; }
  .msg { max-width: 92%; }
}
@media (prefers-reduced-motion: reduce) { .typing span { animation: none; } }
`;

  // ---- small helpers ------------------------------------------------------------------------------
  /** An element with attributes and children; strings become text nodes (never parsed as HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v == null) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child != null) node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  class ApiError extends Error {
    constructor(code, message, status) { super(message); this.code = code; this.status = status; }
  }

  async function api(path, body) {
    let res;
    try {
      res = await fetch(opts.api + path, {
        method: body === undefined ? "GET" : "POST", mode: "cors", credentials: "omit", cache: "no-store",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError("network", "网络连接失败，请检查网络后重试。", 0);
    }
    let payload = null;
    try { payload = await res.json(); } catch (e) { /* not JSON: a proxy error page */ }
    if (!res.ok) {
      const code = (payload && payload.error) || "http_" + res.status;
      const message = REASONS[code] || (payload && payload.message) ||
        (res.status >= 500 ? "服务暂时不可用，请稍后重试。" : "请求失败（" + res.status + "）。");
      throw new ApiError(code, message, res.status);
    }
    return payload;
  }

  const store = {
    load() {
      try { return JSON.parse(localStorage.getItem(STORE_KEY)) || {}; } catch (e) { return {}; }
    },
    save() {
      const meta = {};  // keep the extras (sources, chips) of the latest 100 bot messages only
      Object.keys(state.meta).map(Number).sort((a, b) => b - a).slice(0, 100).forEach((k) => { meta[k] = state.meta[k]; });
      state.meta = meta;
      try {
        localStorage.setItem(STORE_KEY, JSON.stringify({ sid: state.sid, meta, fb: state.fb, rated: state.rated,
          draft: state.input ? state.input.value : "", open: state.open }));
      } catch (e) { /* storage full or blocked: the session just won't survive a reload */ }
    },
  };

  // ---- state --------------------------------------------------------------------------------------
  const saved = store.load();
  const state = {
    sid: typeof saved.sid === "string" ? saved.sid : null,
    meta: saved.meta || {}, fb: saved.fb || {}, rated: saved.rated || {},
    lastSeq: 0, status: "bot", agent: null, ticket: null, open: false, unread: 0,
    sending: false, ready: false, pendingMeta: null, pollTimer: null, pollErrors: 0, syncChain: Promise.resolve(),
    input: null,
  };

  // ---- DOM ----------------------------------------------------------------------------------------
  const host = document.createElement("gz12345-chat");
  host.style.setProperty("all", "initial", "important");
  host.style.setProperty("--gz-color", opts.color);
  const shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();  // CSSOM: not an inline <style>, so a strict host CSP still allows it
    sheet.replaceSync(CSS_TEXT);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el("style", { text: CSS_TEXT }));
  }

  const badge = el("span", { class: "badge", hidden: true, "aria-label": "未读消息" });
  const launcher = el("button", { class: "launcher", type: "button", "aria-haspopup": "dialog",
    "aria-label": "打开在线咨询：" + opts.title, onclick: () => setOpen(true) }, "在线咨询", badge);
  const statusLine = el("div", { class: "status", "aria-live": "polite" }, "智能助手 · 在线");
  const handoffBtn = el("button", { class: "handoff", type: "button", title: "转接人工客服",
    onclick: () => send("转人工") }, "转人工");
  const closeBtn = el("button", { class: "close", type: "button", "aria-label": "关闭对话窗口",
    onclick: () => setOpen(false) }, "×");
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "对话记录", tabindex: "0" });
  const alertText = el("span");
  const retryBtn = el("button", { type: "button" }, "重试");
  const alertBox = el("div", { class: "alert", role: "alert", hidden: true }, alertText, retryBtn);
  const input = el("textarea", { rows: "1", maxlength: "2000", placeholder: "请输入您的问题，按 Enter 发送",
    "aria-label": "输入您的问题" });
  state.input = input;
  const sendBtn = el("button", { class: "send", type: "button", onclick: () => send(input.value) }, "发送");
  const typing = el("div", { class: "typing", role: "status", "aria-label": "对方正在输入" },
    el("span"), el("span"), el("span"));
  const panel = el("section", { class: "panel", role: "dialog", "aria-label": opts.title, hidden: true },
    el("header", { class: "head" }, el("div", { class: "titles" }, el("h2", { text: opts.title }), statusLine),
      handoffBtn, closeBtn),
    log, alertBox,
    el("div", { class: "compose" }, input, sendBtn));
  const root = el("div", { class: "root" }, launcher, panel);
  shadow.append(root);

  const hotChips = el("div", { class: "chips" }, el("span", { class: "label", text: "热门问题：" }),
    opts.hot.map((q) => el("button", { class: "chip", type: "button", onclick: () => send(q) }, q)));
  log.append(el("div", { class: "welcome msg" }, opts.welcome, hotChips));

  input.value = typeof saved.draft === "string" ? saved.draft : "";
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(input.value); }
  });
  input.addEventListener("input", () => store.save());
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") setOpen(false); });

  function setOpen(open) {
    state.open = open;
    panel.hidden = !open;
    launcher.hidden = open;
    if (open) {
      state.unread = 0;
      updateBadge();
      scrollDown();
      input.focus();
    } else {
      launcher.focus();
    }
    store.save();
  }

  function updateBadge() {
    badge.hidden = state.unread === 0;
    badge.textContent = String(state.unread);
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function showAlert(message, retry) {
    alertText.textContent = message;
    retryBtn.hidden = !retry;
    retryBtn.onclick = retry ? () => { hideAlert(); retry(); } : null;
    alertBox.hidden = false;
  }
  function hideAlert() { alertBox.hidden = true; }

  function setTyping(on) {
    if (on) { log.append(typing); scrollDown(); } else typing.remove();
  }

  function updateHeader() {
    if (state.status === "assigned") {
      statusLine.textContent = "人工客服" + (state.agent ? " " + state.agent : "") + " 正在为您服务";
    } else if (state.status === "waiting") {
      statusLine.textContent = "正在为您转接人工客服，请稍候…";
    } else {
      statusLine.textContent = "智能助手 · 在线";
    }
    handoffBtn.disabled = state.status !== "bot";
    panel.dataset.status = state.status;
  }

  // ---- rendering (one node per stored message, keyed by seq) -------------------------------------
  function render(m) {
    let node;
    if (m.role === "user") {
      node = el("div", { class: "msg user" }, m.text);
    } else if (m.role === "agent") {
      const name = (state.meta[m.seq] || {}).agent;
      node = el("div", { class: "msg agent" }, el("span", { class: "who", text: "人工客服" + (name ? " " + name : "") }), m.text);
    } else if (m.role === "system") {
      node = m.type === "rating_request" ? renderRating(m) : el("div", { class: "notice" }, m.text);
    } else {
      node = renderBot(m);
    }
    node.dataset.seq = m.seq;
    node.dataset.role = m.role;
    log.append(node);
    if (state.ready && !state.open && m.role !== "user") { state.unread += 1; updateBadge(); }
  }

  function renderBot(m) {
    const meta = state.meta[m.seq] || {};
    const node = el("div", { class: "msg bot" }, el("span", { class: "who", text: "智能助手" }), m.text);
    const sources = meta.sources || [];
    if (sources.length && m.type === "answer") {
      const top = sources[0];
      node.append(el("details", { class: "source" },
        el("summary", {}, "来源：" + top.title),
        top.legal_basis ? el("p", {}, "政策依据：" + top.legal_basis) : el("p", {}, "政策依据：见答复正文"),
        sources.slice(1).map((s) => el("p", {}, "另见：" + s.title))));
    }
    const suggestions = meta.suggestions || [];
    if (suggestions.length) {
      const label = m.type === "clarify" ? "请选择您要咨询的问题：" : m.type === "fallback" ? "您可以：" : "您可能还想问：";
      node.append(el("div", { class: "chips" }, el("span", { class: "label", text: label }),
        suggestions.map((q) => el("button", { class: "chip", type: "button", onclick: () => send(q) }, q))));
    }
    if (["answer", "clarify", "fallback"].includes(m.type)) node.append(renderFeedback(m.seq));
    return node;
  }

  function renderFeedback(seq) {
    const done = state.fb[seq];
    const thanks = el("span", { class: "thanks", text: done ? "感谢您的反馈" : "这个回答有帮助吗？" });
    const make = (value, label) => el("button", {
      type: "button", "aria-pressed": done === value ? "true" : "false", disabled: Boolean(done),
      "aria-label": label, onclick: () => sendFeedback(seq, value, box),
    }, label);
    const box = el("div", { class: "fb" }, thanks, make(1, "有帮助"), make(-1, "没帮助"));
    return box;
  }

  async function sendFeedback(seq, value, box) {
    const buttons = box.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api("/api/feedback", { session_id: state.sid, message_seq: seq, value });
      state.fb[seq] = value;
      store.save();
      box.querySelector(".thanks").textContent = "感谢您的反馈";
      buttons[value === 1 ? 0 : 1].setAttribute("aria-pressed", "true");
    } catch (e) {
      buttons.forEach((b) => { b.disabled = false; });
      showAlert(e.message, () => sendFeedback(seq, value, box));
    }
  }

  function renderRating(m) {
    const node = el("div", { class: "rating", role: "group", "aria-label": "服务评价" }, el("div", { text: m.text }));
    const rated = state.rated[m.seq] || (state.ticket && state.ticket.rated && state.ticket.status === "closed" &&
      isLastRatingRequest(m.seq) ? "done" : null);
    if (rated) {
      node.append(el("div", { class: "thanks", text: typeof rated === "number" ? "感谢您的评价：" + rated + " 分" : "您已完成评价，谢谢！" }));
      return node;
    }
    const stars = el("div", { class: "stars" });
    for (let n = 1; n <= 5; n += 1) {
      stars.append(el("button", { type: "button", "aria-label": n + " 分", title: n + " 分",
        onclick: () => sendRating(m.seq, n, node) }, "★".repeat(n)));
    }
    node.append(stars);
    return node;
  }

  function isLastRatingRequest(seq) {
    return !log.querySelector('.rating[data-seq]') || Array.from(log.querySelectorAll(".rating[data-seq]"))
      .every((n) => Number(n.dataset.seq) < seq);
  }

  async function sendRating(seq, rating, node) {
    const buttons = node.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    let text = "感谢您的评价：" + rating + " 分";
    try {
      await api("/api/chat/" + encodeURIComponent(state.sid) + "/rating", { rating });
    } catch (e) {
      if (e.code === "already_rated") {
        text = "您已经评价过本次服务，谢谢！";
      } else {
        buttons.forEach((b) => { b.disabled = false; });
        showAlert(e.message, () => sendRating(seq, rating, node));
        return;
      }
    }
    state.rated[seq] = text.startsWith("感谢") ? rating : "done";
    store.save();
    node.querySelector(".stars").replaceWith(el("div", { class: "thanks", text }));
  }

  // ---- talking to the server ----------------------------------------------------------------------
  /** Fetch messages after the last one shown, render them, and follow the human-service status. */
  function sync() {
    state.syncChain = state.syncChain.catch(() => {}).then(doSync);
    return state.syncChain;
  }

  async function doSync() {
    if (!state.sid) return;
    let body;
    try {
      body = await api("/api/chat/" + encodeURIComponent(state.sid) + "/messages?after=" + state.lastSeq);
    } catch (e) {
      if (e.status === 404) { resetSession(); return; }
      throw e;
    }
    state.status = body.status;
    state.agent = body.agent;
    state.ticket = body.ticket;
    for (const m of body.messages) {
      if (m.seq <= state.lastSeq) continue;
      if (m.role === "bot" && state.pendingMeta && m.text === state.pendingMeta.reply) {
        state.meta[m.seq] = { sources: state.pendingMeta.sources, suggestions: state.pendingMeta.suggestions };
        state.pendingMeta = null;
      }
      if (m.role === "agent" && state.agent && !state.meta[m.seq]) state.meta[m.seq] = { agent: state.agent };
      log.querySelectorAll(".msg.user.pending").forEach((n) => { if (m.role === "user" && n.textContent === m.text) n.remove(); });
      render(m);
      state.lastSeq = m.seq;
    }
    if (body.messages.length) { store.save(); scrollDown(); }
    updateHeader();
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(state.pollTimer);
    if (state.status !== "waiting" && state.status !== "assigned") return;
    const delay = Math.min(POLL_MS * (1 + state.pollErrors), 15000);
    state.pollTimer = setTimeout(async () => {
      try {
        await sync();
        if (state.pollErrors) hideAlert();
        state.pollErrors = 0;
      } catch (e) {
        state.pollErrors += 1;
        showAlert("与服务器的连接中断，正在重新连接…", () => sync().catch(() => {}));
        schedulePoll();
      }
    }, delay);
  }

  function resetSession() {
    state.sid = null; state.lastSeq = 0; state.status = "bot"; state.agent = null; state.ticket = null;
    state.meta = {}; state.fb = {}; state.rated = {};
    log.querySelectorAll("[data-seq]").forEach((n) => n.remove());
    updateHeader();
    store.save();
  }

  async function send(raw) {
    const text = String(raw || "").trim();
    if (!text || state.sending) return;
    state.sending = true;
    sendBtn.disabled = true;
    hideAlert();
    const fromInput = input.value.trim() === text;
    if (fromInput) input.value = "";
    store.save();
    const pending = el("div", { class: "msg user pending" }, text);
    log.append(pending);
    setTyping(true);
    try {
      const reply = await api("/api/chat", { message: text, session_id: state.sid, channel: "web" });
      if (reply.session_id !== state.sid) {  // new, or the server no longer knew the old one
        if (state.sid) resetSession();
        state.sid = reply.session_id;
        store.save();
      }
      state.pendingMeta = reply;
    } catch (e) {
      pending.remove();
      setTyping(false);
      if (!input.value.trim()) { input.value = text; store.save(); }  // the typed text is never lost
      showAlert(e.message, () => send(input.value || text));
      finishSend();
      return;
    }
    try {
      await sync();
    } catch (e) {
      showAlert("消息已发送，但刷新对话失败：" + e.message, () => sync().catch((err) => showAlert(err.message)));
    }
    setTyping(false);
    finishSend();
  }

  function finishSend() {
    state.sending = false;
    sendBtn.disabled = false;
    if (state.open) input.focus();
  }

  // ---- start --------------------------------------------------------------------------------------
  function mount() {
    document.body.append(host);
    Object.assign(window.__gz12345Widget, { open: () => setOpen(true), close: () => setOpen(false) });
    updateHeader();
    if (saved.open) setOpen(true);
    const first = state.sid ? sync() : Promise.resolve();
    first.catch((e) => showAlert(e.message, () => sync().catch(() => {}))).finally(() => { state.ready = true; });
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
