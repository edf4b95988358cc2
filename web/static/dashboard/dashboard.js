// Supervisor dashboard: fetch each figure as JSON and draw it as SVG (no libraries, no network beyond this site).
// All text from the server is inserted with textContent, never as HTML.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2"];
  var form = document.getElementById("filters");
  var errorBox = document.getElementById("error");

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) { if (value) params.set(key, value); });
    return params.toString();
  }

  function el(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function html(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("zh-CN") : v.toFixed(1);
    return String(v);
  }

  function short(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; }

  function width(box) {  // draw at the card's pixel width, so text keeps its size on wide and narrow cards
    return Math.max(360, Math.round(box.getBoundingClientRect().width || 560));
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  function kpi(box, data) {
    var row = data.rows[0] || [];
    var wrap = html("div", "kpis");
    data.columns.forEach(function (c, i) {
      var k = html("div", "kpi");
      k.appendChild(html("div", "kpi-value", fmt(row[i])));
      k.appendChild(html("div", "kpi-label", c));
      wrap.appendChild(k);
    });
    box.appendChild(wrap);
  }

  function line(box, data, chart) {
    var W = width(box), H = 240, L = 48, R = 24, T = 12, B = 40;
    var rows = data.rows, series = chart.series;
    var max = 0;
    rows.forEach(function (r) { series.forEach(function (s) { max = Math.max(max, r[s] || 0); }); });
    max = chart.unit === "%" ? 100 : niceMax(max);
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, class: "svg-chart", role: "img"});
    var x = function (i) { return L + (rows.length < 2 ? (W - L - R) / 2 : i * (W - L - R) / (rows.length - 1)); };
    var y = function (v) { return T + (H - T - B) * (1 - (v || 0) / max); };
    for (var g = 0; g <= 5; g++) {
      var gv = max * g / 5;
      svg.appendChild(el("line", {x1: L, x2: W - R, y1: y(gv), y2: y(gv), class: "grid-line"}));
      svg.appendChild(el("text", {x: L - 6, y: y(gv) + 4, class: "axis", "text-anchor": "end"},
                         fmt(gv) + (chart.unit || "")));
    }
    var every = Math.max(1, Math.ceil(rows.length / 8)), last = rows.length - 1;
    rows.forEach(function (r, i) {
      if ((i % every === 0 && (last - i >= every || i === last)) || i === last) {
        var label = String(r[chart.x]);
        var anchor = i === 0 && rows.length > 1 ? "start" : (i === rows.length - 1 && rows.length > 1 ? "end" : "middle");
        svg.appendChild(el("text", {x: x(i), y: H - B + 16, class: "axis", "text-anchor": anchor},
                           label.length > 10 ? label.slice(5) : label));
      }
    });
    series.forEach(function (s, k) {
      var color = COLORS[k % COLORS.length];
      var points = rows.map(function (r, i) { return x(i).toFixed(1) + "," + y(r[s]).toFixed(1); }).join(" ");
      svg.appendChild(el("polyline", {points: points, fill: "none", stroke: color, "stroke-width": 2}));
      rows.forEach(function (r, i) {
        var dot = el("circle", {cx: x(i), cy: y(r[s]), r: rows.length > 60 ? 1.5 : 3, fill: color});
        dot.appendChild(el("title", {}, r[chart.x] + " " + data.columns[s] + "：" + fmt(r[s])));
        svg.appendChild(dot);
      });
      svg.appendChild(el("rect", {x: L + k * 130, y: H - 14, width: 10, height: 10, fill: color}));
      svg.appendChild(el("text", {x: L + k * 130 + 14, y: H - 5, class: "legend"}, data.columns[s]));
    });
    box.appendChild(svg);
  }

  function bar(box, data, chart) {
    var rows = data.rows.slice(0, 12);
    var W = width(box), rowH = 24, L = Math.min(300, Math.round(W * 0.36)), R = 70, H = rows.length * rowH + 8;
    var chars = Math.floor((L - 12) / 12);
    var max = chart.max || niceMax(Math.max.apply(null, rows.map(function (r) { return r[chart.value] || 0; })));
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, class: "svg-chart", role: "img"});
    rows.forEach(function (r, i) {
      var label = String(r[chart.label]), v = r[chart.value] || 0, yy = 4 + i * rowH;
      var t = el("text", {x: L - 8, y: yy + 15, class: "bar-label", "text-anchor": "end"}, short(label, chars));
      t.appendChild(el("title", {}, label));
      svg.appendChild(t);
      svg.appendChild(el("rect", {x: L, y: yy + 3, width: W - L - R, height: rowH - 8, class: "bar-bg"}));
      var b = el("rect", {x: L, y: yy + 3, width: Math.max(1, (W - L - R) * v / max), height: rowH - 8,
                          fill: COLORS[0], rx: 2});
      b.appendChild(el("title", {}, label + "：" + fmt(v)));
      svg.appendChild(b);
      svg.appendChild(el("text", {x: W - R + 6, y: yy + 15, class: "bar-value"},
                         fmt(v) + (chart.max === 100 ? "%" : "")));
    });
    box.appendChild(html("p", "caption", "图示：" + data.columns[chart.value]));
    box.appendChild(svg);
    if (data.rows.length > rows.length) box.appendChild(html("p", "more", "图中显示前 12 项，共 " + data.rows.length + " 项，完整数据见表格"));
  }

  function table(card, data) {
    var head = card.querySelector("thead"), body = card.querySelector("tbody");
    head.textContent = ""; body.textContent = "";
    var tr = document.createElement("tr");
    data.columns.forEach(function (c) { tr.appendChild(html("th", "", c)); });
    head.appendChild(tr);
    data.rows.forEach(function (r) {
      var row = document.createElement("tr");
      r.forEach(function (v) { row.appendChild(html("td", typeof v === "number" ? "num" : "", fmt(v))); });
      body.appendChild(row);
    });
  }

  function load(card) {
    var name = card.getAttribute("data-figure"), qs = query();
    var chartBox = card.querySelector(".chart");
    card.querySelector("[data-csv]").setAttribute("href", "/api/dashboard/" + name + "?format=csv&" + qs);
    card.classList.add("loading");
    return fetch("/api/dashboard/" + name + "?" + qs, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (res) {
        if (res.status === 401) { window.location.href = "/agent/login?next=/dashboard"; throw new Error("登录已过期"); }
        return res.json().then(function (body) {
          if (!res.ok) throw new Error(body.message || ("请求失败 " + res.status));
          return body;
        });
      })
      .then(function (data) {
        chartBox.textContent = "";
        var empty = !data.rows.length || (data.chart.kind === "kpi" && !data.rows[0][0]);
        card.querySelector(".empty").hidden = !empty;
        if (data.chart.kind === "kpi") kpi(chartBox, data);
        else if (data.rows.length && data.chart.kind === "line") line(chartBox, data, data.chart);
        else if (data.rows.length && data.chart.kind === "bar") bar(chartBox, data, data.chart);
        table(card, data);
        card.setAttribute("data-loaded", "1");
      })
      .catch(function (err) { errorBox.hidden = false; errorBox.textContent = err.message; })
      .then(function () { card.classList.remove("loading"); });
  }

  function loadAll() {
    var cards = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
    var next = 0;
    function worker() {  // three requests at a time: the database does the work, the page stays responsive
      if (next >= cards.length) return Promise.resolve();
      return load(cards[next++]).then(worker);
    }
    Promise.all([worker(), worker(), worker()]).then(function () { document.body.setAttribute("data-ready", "1"); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    history.replaceState(null, "", "/dashboard?" + query());
    errorBox.hidden = true;
    loadAll();
  });
  loadAll();
})();
