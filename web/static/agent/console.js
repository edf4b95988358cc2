/* Agent console: queues, claim, live conversation, reply, close, KB side panel and the work-order form.
 * Talks to /api/agent/* with the session cookie and the X-CSRF-Token header; all text goes through textContent. */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const LIST_POLL_MS = 3000;
  const TICKET_POLL_MS = 2000;
  const REASONS = { user_request: "用户要求转人工", complaint: "投诉/反映", repeated_failure: "多次未解决",
    low_confidence: "机器人无法回答" };
  const STATUS = { waiting: "等待认领", assigned: "处理中", closed: "已结束" };
  const ROLES = { agent: "坐席", supervisor: "班长（全部队列）", editor: "知识编辑" };
  const ROLE_LABEL = { user: "用户", bot: "智能助手", agent: "坐席", system: "系统" };
  const CHANNELS = { web: "网页", wechat: "微信", cli: "命令行" };
  const FORM_FIELDS = ["scenario", "company", "credit_code", "district", "address", "phone", "summary", "department"];
  const CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  const state = {
    me: null, csrf: null, queue: "", status: "open", tickets: [], ticket: null, lastSeq: 0, lastUserSeq: 0,
    listTimer: null, ticketTimer: null, loadingTicket: false,
  };

  // ---- helpers ------------------------------------------------------------------------------------
  const { el, toLogin } = DOM;

  class ApiError extends Error {
    constructor(code, message, status) { super(message); this.code = code; this.status = status; }
  }

  async function api(path, method = "GET", body, retried = false) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRF-Token"] = state.csrf || "";
    let res;
    try {
      res = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError("network", "无法连接服务器，请检查网络", 0);
    }
    const payload = await res.json().catch(() => null);
    if (res.status === 401) { toLogin(); throw new ApiError("unauthorized", "登录已过期，请重新登录", 401); }
    if (res.status === 403 && payload && payload.error === "csrf_failed" && !retried) {
      await loadMe();
      return api(path, method, body, true);
    }
    if (!res.ok) {
      throw new ApiError((payload && payload.error) || "http_" + res.status,
        (payload && payload.message) || "请求失败（" + res.status + "）", res.status);
    }
    return payload;
  }

  function showError(node, message) {
    node.textContent = message;
    node.hidden = !message;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds || 0));
    if (seconds < 60) return seconds + "秒";
    if (seconds < 3600) return Math.floor(seconds / 60) + "分" + (seconds % 60) + "秒";
    return Math.floor(seconds / 3600) + "小时" + Math.floor((seconds % 3600) / 60) + "分";
  }

  /** Server times are UTC; SQLite hands them back without a zone. */
  function parseIso(iso) {
    return new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
  }

  function clock(iso) {
    if (!iso) return "";
    const d = parseIso(iso);
    return isNaN(d) ? iso : d.toLocaleString("zh-CN", { hour12: false });
  }

  function creditCodeValid(code) {
    code = (code || "").toUpperCase();
    if (code.length !== 18 || [...code].some((ch) => !CREDIT_CHARS.includes(ch))) return false;
    let total = 0;
    for (let i = 0; i < 17; i += 1) total += CREDIT_CHARS.indexOf(code[i]) * CREDIT_WEIGHTS[i];
    return CREDIT_CHARS[(31 - (total % 31)) % 31] === code[17];
  }

  // ---- who am I -----------------------------------------------------------------------------------
  async function loadMe() {
    const res = await fetch("/api/agent/me", { credentials: "same-origin", cache: "no-store" });
    if (res.status === 401) { toLogin(); throw new ApiError("unauthorized", "请先登录", 401); }
    const body = await res.json();
    state.me = body.agent;
    state.csrf = body.csrf_token;
    $("me").textContent = body.agent.display_name + " · " + (ROLES[body.agent.role] || body.agent.role);
  }

  // ---- queue list ---------------------------------------------------------------------------------
  function renderQueueTabs() {
    const tabs = $("queue-tabs");
    tabs.replaceChildren();
    for (const q of ["", ...state.me.queues]) {
      tabs.append(el("button", { type: "button", role: "tab", "aria-selected": String(state.queue === q),
        "data-queue": q, onclick: () => { state.queue = q; renderQueueTabs(); loadList(); } }, q || "全部队列"));
    }
  }

  async function loadList() {
    clearTimeout(state.listTimer);
    const params = new URLSearchParams({ status: state.status });
    if (state.queue) params.set("queue", state.queue);
    try {
      const body = await api("/api/agent/tickets?" + params);
      state.tickets = body.tickets;
      renderList();
      showError($("global-error"), "");
    } catch (e) {
      if (e.status !== 401) showError($("global-error"), "刷新工单列表失败：" + e.message);
    }
    state.listTimer = setTimeout(loadList, LIST_POLL_MS);
  }

  function renderList() {
    const list = $("ticket-list");
    list.replaceChildren();
    $("list-meta").textContent = "共 " + state.tickets.length + " 个工单 · " +
      new Date().toLocaleTimeString("zh-CN", { hour12: false }) + " 更新";
    for (const t of state.tickets) {
      const waited = t.status === "waiting" ? "已等待 " + duration(t.waiting_seconds) : "等待了 " + duration(t.waiting_seconds);
      const item = el("li", { class: "ticket" + (state.ticket && state.ticket.id === t.id ? " current" : ""), "data-id": t.id },
        el("button", { type: "button", class: "open", onclick: () => openTicket(t.id) },
          el("span", { class: "tag" }, t.queue),
          el("span", { class: "tag channel" }, CHANNELS[t.channel] || t.channel),
          el("span", { class: "tag status-" + t.status }, STATUS[t.status] || t.status),
          el("span", { class: "wait" }, waited),
          el("span", { class: "reason" }, REASONS[t.reason] || t.reason || ""),
          el("span", { class: "summary" }, t.summary || "（无摘要）"),
          el("span", { class: "meta" }, t.id + (t.agent ? " · " + t.agent : ""))));
      if (t.status === "waiting") {
        item.append(el("button", { type: "button", class: "claim primary", "aria-label": "认领工单 " + t.id,
          onclick: () => claim(t.id) }, "认领"));
      }
      list.append(item);
    }
    if (!state.tickets.length) list.append(el("li", { class: "none" }, "当前没有工单"));
  }

  async function claim(id) {
    try {
      await api("/api/agent/tickets/" + encodeURIComponent(id) + "/claim", "POST", {});
    } catch (e) {
      showError($("global-error"), e.message);
      loadList();
      return;
    }
    await openTicket(id);
    loadList();
  }

  // ---- one ticket ---------------------------------------------------------------------------------
  async function openTicket(id) {
    clearTimeout(state.ticketTimer);
    let t;
    try {
      t = await api("/api/agent/tickets/" + encodeURIComponent(id));
    } catch (e) {
      showError($("global-error"), e.message);
      return;
    }
    state.ticket = t;
    state.lastSeq = 0;
    state.lastUserSeq = 0;
    $("empty-state").hidden = true;
    $("ticket-view").hidden = false;
    $("messages").replaceChildren();
    showError($("ticket-error"), "");
    showError($("form-msg"), "");
    $("reply-text").value = "";
    $("resolution").value = "";
    renderTicketHead(t);
    renderMessages(t.messages);
    fillForm(t.form);
    loadSuggestions();
    loadChannel(t);
    document.querySelectorAll(".ticket").forEach((n) => n.classList.toggle("current", n.dataset.id === id));
    state.ticketTimer = setTimeout(pollTicket, TICKET_POLL_MS);
  }

  async function pollTicket() {
    const t0 = state.ticket;
    if (!t0) return;
    try {
      const t = await api("/api/agent/tickets/" + encodeURIComponent(t0.id));
      if (!state.ticket || state.ticket.id !== t.id) return;
      const statusChanged = t.status !== state.ticket.status || t.agent_id !== state.ticket.agent_id;
      state.ticket = t;
      if (statusChanged) renderTicketHead(t);
      const before = state.lastUserSeq;
      renderMessages(t.messages);
      if (state.lastUserSeq > before) loadSuggestions();  // a new user message: refresh the side panel
    } catch (e) {
      if (e.status !== 401) showError($("ticket-error"), "刷新会话失败：" + e.message);
    }
    if (state.ticket && state.ticket.id === t0.id) state.ticketTimer = setTimeout(pollTicket, TICKET_POLL_MS);
  }

  function mine(t) {
    return t.status === "assigned" && (t.agent_id === state.me.id || state.me.role === "supervisor");
  }

  function renderTicketHead(t) {
    $("ticket-title").textContent = "工单 " + t.id;
    $("ticket-sub").textContent = [t.queue + "队列", STATUS[t.status] || t.status, REASONS[t.reason] || t.reason,
      "渠道：" + (CHANNELS[t.channel] || t.channel), t.agent ? "坐席：" + t.agent : null,
      "转人工于 " + clock(t.created_at)].filter(Boolean).join(" · ");
    $("claim-btn").hidden = t.status !== "waiting";
    const working = mine(t);
    $("reply-form").hidden = !working;
    $("close-form").hidden = !working;
    $("transfer-form").hidden = !working;
    $("form-save").disabled = t.status === "closed";
    const info = $("closed-info");
    if (t.status === "closed") {
      info.textContent = "已结束于 " + clock(t.closed_at) + "。处理结果：" + (t.resolution || "") +
        (t.rating ? "。用户评分：" + t.rating + " 分" : "。用户尚未评分");
    } else if (t.status === "assigned" && !working) {
      info.textContent = "该工单由 " + (t.agent || "其他坐席") + " 处理中。";
    } else if (t.status === "waiting") {
      info.textContent = "认领后即可回复用户。";
    }
    info.hidden = working;
  }

  function renderMessages(messages) {
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    let added = 0;
    for (const m of messages) {
      if (m.seq <= state.lastSeq) continue;
      added += 1;
      list.append(el("li", { class: "m " + m.role + (m.type ? " t-" + m.type : ""), "data-seq": m.seq },
        el("span", { class: "who" }, (ROLE_LABEL[m.role] || m.role) + " · " + clock(m.created_at)),
        el("span", { class: "text" }, m.text)));
      state.lastSeq = m.seq;
      if (m.role === "user") state.lastUserSeq = m.seq;
    }
    if (added && atBottom) list.scrollTop = list.scrollHeight;
  }

  /** WeChat tickets: the 48 h customer-service window, pushes left, failed pushes (with a retry). */
  async function loadChannel(t) {
    const info = $("channel-info");
    if (t.channel !== "wechat") { info.hidden = true; return; }
    let c;
    try {
      c = await api("/api/agent/tickets/" + encodeURIComponent(t.id) + "/channel");
    } catch (e) {
      info.replaceChildren(e.status === 404 ? "微信渠道：暂无客服消息窗口信息" : "微信渠道信息获取失败：" + e.message);
      info.hidden = false;
      return;
    }
    if (!state.ticket || state.ticket.id !== t.id) return;
    const parts = [];
    if (c.window_open) {
      const left = c.window_expires_at ? (parseIso(c.window_expires_at) - Date.now()) / 1000 : null;
      parts.push(el("span", {}, "48小时客服窗口：开放" + (c.window_expires_at ? "，至 " + clock(c.window_expires_at) : "") +
        (left != null && !isNaN(left) ? "（剩余 " + duration(left) + "）" : "")));
    } else {
      parts.push(el("span", { class: "warn" }, "48小时客服窗口：已关闭（用户再次发消息后重新开放，期间回复会保存但无法推送）"));
    }
    if (c.quota_remaining != null) parts.push(el("span", {}, "剩余可发消息：" + c.quota_remaining + " 条"));
    if (c.subscribed === false) parts.push(el("span", { class: "warn" }, "用户已取消关注"));
    if (c.pending) parts.push(el("span", {}, "待发送 " + c.pending + " 条"));
    if (c.failed && c.failed.length) {
      parts.push(el("span", { class: "warn" }, "发送失败 " + c.failed.length + " 条"));
      parts.push(el("button", { type: "button", onclick: () => retryChannel(t) }, "重发失败消息"));
    }
    info.replaceChildren(...parts);
    info.hidden = false;
  }

  async function retryChannel(t) {
    try {
      const res = await api("/api/agent/tickets/" + encodeURIComponent(t.id) + "/channel/retry", "POST", {});
      showError($("ticket-error"), res.retried ? "" : "没有需要重发的消息");
    } catch (e) {
      showError($("ticket-error"), "重发失败：" + e.message);
    }
    loadChannel(t);
  }

  // ---- KB side panel ------------------------------------------------------------------------------
  async function loadSuggestions() {
    const t = state.ticket;
    if (!t) return;
    try {
      const body = await api("/api/agent/tickets/" + encodeURIComponent(t.id) + "/suggestions?k=5");
      if (!state.ticket || state.ticket.id !== t.id) return;
      $("assist-meta").textContent = body.based_on ? "根据用户消息“" + body.based_on + "”推荐：" : "暂无可推荐的知识";
      renderSuggestions(body.suggestions);
    } catch (e) {
      $("assist-meta").textContent = "推荐失败：" + e.message;
    }
  }

  async function searchKb(q) {
    try {
      const body = await api("/api/kb/search?" + new URLSearchParams({ q, k: "5" }));
      $("assist-meta").textContent = "检索“" + q + "”的结果：";
      renderSuggestions(body.results);
    } catch (e) {
      $("assist-meta").textContent = "检索失败：" + e.message;
    }
  }

  function renderSuggestions(items) {
    const list = $("suggestions");
    list.replaceChildren();
    for (const s of items) {
      const facts = [
        s.legal_basis ? "依据：" + s.legal_basis : null,
        s.effective_from ? "生效：" + s.effective_from + (s.expires_on ? " 至 " + s.expires_on : "") : null,
        s.department ? "部门：" + s.department : null,
        s.district ? "适用区：" + s.district : null,
      ].filter(Boolean);
      list.append(el("li", { class: "sugg", "data-id": s.id },
        el("div", { class: "s-title" }, s.title, el("span", { class: "score" }, " " + Math.round(s.score * 100) + "%")),
        el("p", { class: "s-answer" }, s.answer),
        facts.map((f) => el("p", { class: "s-fact" }, f)),
        el("button", { type: "button", class: "insert", "aria-label": "插入回复：" + s.title,
          onclick: () => insertAnswer(s.answer) }, "插入回复")));
    }
    if (!items.length) list.append(el("li", { class: "none" }, "没有匹配的知识条目"));
  }

  function insertAnswer(text) {
    const box = $("reply-text");
    box.value = box.value.trim() ? box.value.replace(/\s+$/, "") + "\n" + text : text;
    if (!$("reply-form").hidden) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
  }

  // ---- work order ---------------------------------------------------------------------------------
  function fillForm(form) {
    for (const name of FORM_FIELDS) {
      const input = $("f-" + name);
      const value = form[name] == null ? "" : String(form[name]);
      if (name === "district" && value && ![...input.options].some((o) => o.value === value)) {
        input.append(el("option", { value }, value));
      }
      input.value = value;
    }
    showCreditValidity(form.credit_code_valid);
  }

  function showCreditValidity(serverSaid) {
    const code = $("f-credit_code").value.trim();
    const mark = $("credit-valid");
    const ok = code ? creditCodeValid(code) : null;
    mark.className = "valid " + (ok === null ? "" : ok ? "ok" : "bad");
    mark.textContent = ok === null ? "（未提供）" : ok ? "✓ 校验通过" : "✗ 校验位不正确";
    if (serverSaid === false && ok) mark.textContent = "✓ 校验通过";
  }

  async function saveForm(event) {
    event.preventDefault();
    const t = state.ticket;
    if (!t) return;
    const fields = {};
    for (const name of FORM_FIELDS) fields[name] = $("f-" + name).value.trim();
    const msg = $("form-msg");
    $("form-save").disabled = true;
    try {
      const updated = await api("/api/agent/tickets/" + encodeURIComponent(t.id), "PATCH", fields);
      if (updated.form) { state.ticket = { ...state.ticket, ...updated }; fillForm(updated.form); }
      msg.className = "form-msg ok";
      showError(msg, "已保存 " + new Date().toLocaleTimeString("zh-CN", { hour12: false }));
    } catch (e) {
      msg.className = "form-msg bad";
      showError(msg, "保存失败：" + e.message);
    }
    $("form-save").disabled = state.ticket && state.ticket.status === "closed";
  }

  // ---- reply and close ----------------------------------------------------------------------------
  async function sendReply(event) {
    event.preventDefault();
    const box = $("reply-text");
    const text = box.value.trim();
    if (!text || !state.ticket) return;
    $("reply-btn").disabled = true;
    try {
      const res = await api("/api/agent/tickets/" + encodeURIComponent(state.ticket.id) + "/reply", "POST", { text });
      box.value = "";
      showError($("ticket-error"), res.delivery && res.delivery.status === "failed"
        ? "回复已保存，但推送到" + (CHANNELS[res.delivery.channel] || res.delivery.channel) + "失败" : "");
      renderMessages([res.message]);
      loadChannel(state.ticket);
    } catch (e) {
      showError($("ticket-error"), "发送失败：" + e.message);  // the text stays in the box
    }
    $("reply-btn").disabled = false;
  }

  async function closeTicket(event) {
    event.preventDefault();
    const resolution = $("resolution").value.trim();
    if (!resolution) { showError($("ticket-error"), "请填写处理结果后再结束工单"); $("resolution").focus(); return; }
    try {
      const t = await api("/api/agent/tickets/" + encodeURIComponent(state.ticket.id) + "/close", "POST", { resolution });
      state.ticket = t;
      renderTicketHead(t);
      renderMessages(t.messages);
      showError($("ticket-error"), "");
      loadList();
    } catch (e) {
      showError($("ticket-error"), "结束失败：" + e.message);
    }
  }

  async function transferTicket(event) {
    event.preventDefault();
    const queue = $("transfer-queue").value;
    if (!queue || !state.ticket || queue === state.ticket.queue) {
      showError($("ticket-error"), "请选择另一个队列");
      return;
    }
    try {
      await api("/api/agent/tickets/" + encodeURIComponent(state.ticket.id), "PATCH", { queue });
      clearTimeout(state.ticketTimer);
      state.ticket = null;
      $("ticket-view").hidden = true;
      $("empty-state").hidden = false;
      $("empty-state").textContent = "工单已转派到“" + queue + "”队列，等待该队列坐席认领。";
      loadList();
    } catch (e) {
      showError($("ticket-error"), "转派失败：" + e.message);
    }
  }

  // ---- start --------------------------------------------------------------------------------------
  async function start() {
    const select = $("f-district");
    select.append(el("option", { value: "" }, "（未确定）"));
    for (const d of (document.body.dataset.districts || "").split(",").filter(Boolean)) {
      select.append(el("option", { value: d }, d + "区"));
    }
    try { await loadMe(); } catch (e) { return; }
    renderQueueTabs();
    $("status-filter").addEventListener("change", (e) => { state.status = e.target.value; loadList(); });
    $("claim-btn").addEventListener("click", () => state.ticket && claim(state.ticket.id));
    $("reply-form").addEventListener("submit", sendReply);
    $("reply-text").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("reply-form").requestSubmit();
    });
    $("close-form").addEventListener("submit", closeTicket);
    $("transfer-form").addEventListener("submit", transferTicket);
    for (const q of ["商事登记", "公积金", "社保", "综合"]) $("transfer-queue").append(el("option", { value: q }, q));
    $("ticket-form").addEventListener("submit", saveForm);
    $("f-credit_code").addEventListener("input", () => showCreditValidity());
    $("kb-search").addEventListener("submit", (e) => {
      e.preventDefault();
      const q = $("kb-q").value.trim();
      if (q) searchKb(q); else loadSuggestions();
    });
    $("logout").addEventListener("click", async () => {
      try { await api("/api/agent/logout", "POST", {}); } catch (e) { /* going to the login page anyway */ }
      toLogin();
    });
    loadList();
  }
  start();
})();
