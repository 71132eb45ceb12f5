// Operators' console: every value is rendered with textContent; charts are SVG images.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var session = window.posbotLogin({
    key: "posbot-ops-token", // the content page's too: one login for both
    refused: [401, 403],
    refusedMessage: "令牌无效或无运营权限，请重新登录",
    shown: function (has) { $("range").hidden = !has; },
    onLogin: load,
    onLogout: function () {
      $("figures").textContent = "";
      $("summary").hidden = true;
      status("");
    }
  });
  var SUMMARY = [
    ["volume", "conversations", "会话数"],
    ["volume", "messages", "消息数"],
    ["containment", "containment_rate", "自助解决率"],
    ["fallback", "fallback_rate", "未理解率"],
    ["handoffs", "handoff_rate", "转人工率"],
    ["applications", "filed", "机器人受理申请"],
    ["notifications", "delivery_rate", "通知送达率"],
    ["feedback", "helpful_rate", "回答有帮助"],
    ["satisfaction", "mean_score", "人工服务满意度（1–5）"]
  ];

  function status(text) { $("status").textContent = text; }
  function shown(key, value) {
    return /(_rate|^share)$/.test(key) ? (Math.round(value * 1000) / 10) + "%" : String(value);
  }
  function query() {
    var parts = [];
    if ($("since").value) { parts.push("since=" + encodeURIComponent($("since").value)); }
    if ($("until").value) { parts.push("until=" + encodeURIComponent($("until").value)); }
    return parts.length ? "?" + parts.join("&") : "";
  }

  function request(path) {
    return session.fetch(path).then(function (reply) {
      if (!reply.ok) {
        return reply.json().then(function (body) { throw new Error(body.error || ("HTTP " + reply.status)); },
          function () { throw new Error("HTTP " + reply.status); });
      }
      return reply;
    });
  }

  function table(figure) {
    var t = document.createElement("table");
    var head = document.createElement("tr");
    figure.columns.forEach(function (c) { var th = document.createElement("th"); th.textContent = c; head.appendChild(th); });
    t.appendChild(head);
    figure.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (value, i) {
        var td = document.createElement("td");
        td.textContent = shown(figure.columns[i], value);
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    return t;
  }

  function download(key) {
    request("/ops/api/figures/" + encodeURIComponent(key) + ".csv" + query()).then(function (reply) {
      var name = (reply.headers.get("Content-Disposition") || "").replace(/^.*filename="([^"]+)".*$/, "$1") || key + ".csv";
      return reply.blob().then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = name;
        document.body.appendChild(a);
        a.click();
        a.remove();
      });
    }).catch(function (error) { status(error.message); });
  }

  function render(data) {
    var byKey = {};
    data.figures.forEach(function (f) { byKey[f.key] = f; });
    var summary = $("summary");
    summary.textContent = "";
    SUMMARY.forEach(function (item) {
      var f = byKey[item[0]];
      if (!f || !(item[1] in f.totals)) { return; }
      var card = document.createElement("div");
      card.className = "ops-card";
      card.dataset.total = item[0] + "." + item[1];
      var value = document.createElement("span");
      value.className = "value";
      value.textContent = shown(item[1], f.totals[item[1]]);
      card.appendChild(value);
      card.appendChild(document.createTextNode(item[2]));
      summary.appendChild(card);
    });
    summary.hidden = false;
    var box = $("figures");
    box.textContent = "";
    data.figures.forEach(function (f) {
      var section = document.createElement("section");
      section.className = "ops-figure";
      section.id = "figure-" + f.key;
      var h = document.createElement("h2");
      h.textContent = f.title;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "导出 CSV";
      button.addEventListener("click", function () { download(f.key); });
      h.appendChild(button);
      section.appendChild(h);
      if (f.svg) {
        var img = document.createElement("img");
        img.alt = f.title;
        img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(f.svg);
        section.appendChild(img);
      }
      var details = document.createElement("details");
      if (!f.svg) { details.open = true; }
      var s = document.createElement("summary");
      s.textContent = "数据表";
      details.appendChild(s);
      details.appendChild(table(f));
      section.appendChild(details);
      box.appendChild(section);
    });
    status(data.since + " 至 " + data.until);
  }

  // Only the latest request's answer is shown (an earlier one may arrive after it).
  var latest = 0;
  function load() {
    if (!session.token()) { return; }
    var mine = ++latest;
    status("加载中…");
    request("/ops/api/dashboard" + query()).then(function (reply) { return reply.json(); })
      .then(function (data) { if (mine === latest) { render(data); } })
      .catch(function (error) { if (mine === latest) { status(error.message); } });
  }

  $("range").addEventListener("submit", function (event) { event.preventDefault(); load(); });
  session.update();
  load();
}());
