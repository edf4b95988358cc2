/* Agent console login: POST /api/agent/login (sets the session cookie), then go to ?next= (a path on this site). */
(() => {
  "use strict";
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");
  const next = (() => {
    const target = form.dataset.next || "/agent";
    return target.startsWith("/") && !target.startsWith("//") && !target.includes("\\") ? target : "/agent";
  })();

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    submit.disabled = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) return fail("请输入用户名和密码");
    submit.disabled = true;
    error.hidden = true;
    let res;
    try {
      res = await fetch("/api/agent/login", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }) });
    } catch (e) {
      return fail("无法连接服务器，请检查网络后重试");
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) return fail(body.message || "登录失败（" + res.status + "）");
    try { sessionStorage.setItem("gz12345-csrf", body.csrf_token); } catch (e) { /* the console asks /api/agent/me */ }
    location.assign(next);
  });
})();
