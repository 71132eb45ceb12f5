// Agent desk page: the waiting conversations and the after-hours requests. Every value is
// rendered with textContent.
(function () {
  "use strict";
  var TOKEN_KEY = "posbot.desk.token";
  var $ = function (id) { return document.getElementById(id); };

  function token() { return window.sessionStorage.getItem(TOKEN_KEY) || ""; }

  function list(element, items) {
    element.textContent = "";
    items.forEach(function (lines) {
      var li = document.createElement("li");
      li.className = "answer";
      li.textContent = lines.filter(Boolean).join("\n");
      element.appendChild(li);
    });
  }

  function when(iso) { return iso ? iso.replace("T", " ").slice(0, 16) : ""; }

  function waitingLines(c) {
    return [c.ticket_id + "  " + c.sender_id + "  " + when(c.created_at), c.summary];
  }

  function requestLines(r) {
    var head = r.kind === "callback"
      ? "回电 " + when(r.callback_at) + "  拨打 " + r.phone
      : "留言：" + r.message;
    return [head, r.ticket_id + "  " + r.sender_id + (r.merchant_id ? "  商户 " + r.merchant_id : "") +
      "  提交于 " + when(r.created_at)];
  }

  function get(path) {
    return fetch(path, { headers: { "Authorization": "Bearer " + token() } }).then(function (response) {
      if (response.status === 401) {
        window.sessionStorage.removeItem(TOKEN_KEY);
        loggedIn();
        throw new Error("令牌无效，请重新登录");
      }
      if (!response.ok) { throw new Error("请求失败（" + response.status + "）"); }
      return response.json();
    });
  }

  function refresh() {
    if (!token()) { return; }
    $("status").textContent = "加载中…";
    Promise.all([get("/agent/conversations"), get("/agent/after-hours")]).then(function (results) {
      var waiting = results[0].conversations, requests = results[1].requests;
      $("waiting-count").textContent = String(waiting.length);
      $("after-hours-count").textContent = String(requests.length);
      list($("waiting"), waiting.map(waitingLines));
      list($("after-hours"), requests.map(requestLines));
      $("status").textContent = "";
    }).catch(function (error) { $("status").textContent = error.message; });
  }

  function loggedIn() { $("login").hidden = !!token(); }

  $("login").addEventListener("submit", function (event) {
    event.preventDefault();
    window.sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    loggedIn();
    refresh();
  });
  $("refresh").addEventListener("click", refresh);

  loggedIn();
  refresh();
})();
