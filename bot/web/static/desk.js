// Agent desk: documents merchants sent. Every value is rendered with textContent; files are
// fetched with the agent's token and saved as downloads (never shown inline).
(function () {
  "use strict";
  var TOKEN_KEY = "posbot.copilot.token";
  var $ = function (id) { return document.getElementById(id); };

  function token() { return window.sessionStorage.getItem(TOKEN_KEY) || ""; }
  function authorized() { return { headers: { "Authorization": "Bearer " + token() } }; }

  function loggedIn() {
    $("login").hidden = !!token();
    $("filter").hidden = !token();
  }

  function check(response) {
    if (response.status === 401) {
      window.sessionStorage.removeItem(TOKEN_KEY);
      loggedIn();
      throw new Error("令牌无效，请重新登录");
    }
    if (!response.ok) { throw new Error("请求失败（" + response.status + "）"); }
    return response;
  }

  function label(d) {
    var item = d.missing_item === null ? "待商户确认" : (d.missing_item || "补充材料");
    return "#" + d.document_id + " " + d.case_id + " · " + item + " · " + d.mime + " · " +
      Math.ceil(d.size / 1024) + " KB · " + d.uploaded_at.replace("T", " ");
  }

  function download(d) {
    fetch("/agent/documents/" + d.document_id, authorized()).then(check).then(function (response) {
      return response.blob();
    }).then(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = d.case_id + "-" + d.document_id + "." + ({ "image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf" }[d.mime] || "bin");
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
    }).catch(function (error) { $("status").textContent = error.message; });
  }

  function show(documents) {
    var list = $("documents");
    list.textContent = "";
    if (!documents.length) { $("status").textContent = "没有材料"; return; }
    $("status").textContent = "";
    documents.forEach(function (d) {
      var li = document.createElement("li");
      li.className = "doc";
      var text = document.createElement("span");
      text.textContent = label(d);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "primary";
      button.textContent = "下载";
      button.addEventListener("click", function () { download(d); });
      li.appendChild(text);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(button);
      list.appendChild(li);
    });
  }

  function refresh() {
    if (!token()) { return; }
    var caseId = $("case-id").value.trim().toUpperCase();
    var url = "/agent/documents" + (caseId ? "?case_id=" + encodeURIComponent(caseId) : "");
    $("status").textContent = "加载中…";
    fetch(url, authorized()).then(check).then(function (response) { return response.json(); })
      .then(function (result) { show(result.documents || []); })
      .catch(function (error) { $("status").textContent = error.message; });
  }

  $("login").addEventListener("submit", function (event) {
    event.preventDefault();
    window.sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    loggedIn();
    refresh();
  });
  $("filter").addEventListener("submit", function (event) { event.preventDefault(); refresh(); });
  $("logout").addEventListener("click", function () {
    window.sessionStorage.removeItem(TOKEN_KEY);
    $("documents").textContent = "";
    loggedIn();
  });

  loggedIn();
  refresh();
})();
