// Agent desk page: the waiting conversations, the after-hours requests and the documents
// merchants sent. Every value is rendered with textContent; files are fetched with the agent's
// token and saved as downloads (never shown inline). The token is the copilot's (one login).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var session = window.posbotLogin({
    key: "posbot.copilot.token",
    refusedMessage: "令牌无效，请重新登录",
    shown: function (has) { $("filter").hidden = !has; },
    onLogin: refresh,
    onLogout: function () {
      ["waiting", "after-hours", "documents"].forEach(function (id) { $(id).textContent = ""; });
    }
  });

  function check(response) {
    if (!response.ok) { throw new Error("请求失败（" + response.status + "）"); }
    return response;
  }

  function get(path) {
    return session.fetch(path).then(check).then(function (response) { return response.json(); });
  }

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

  function markDone(r, button) {
    button.disabled = true;
    session.fetch("/agent/after-hours/" + encodeURIComponent(r.ticket_id) + "/done", { method: "POST" })
      .then(function (response) {
        if (response.status !== 409) { check(response); }  // 409: another agent did it
        refresh();
      }).catch(function (error) {
        button.disabled = false;
        $("status").textContent = error.message;
      });
  }

  // A list item: its text, then a button that calls onClick(button).
  function itemWithButton(className, label, buttonText, onClick) {
    var li = document.createElement("li");
    li.className = className;
    var text = document.createElement("span");
    text.textContent = label;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "primary";
    button.textContent = buttonText;
    button.addEventListener("click", function () { onClick(button); });
    li.appendChild(text);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(button);
    return li;
  }

  function showRequests(requests) {
    var element = $("after-hours");
    element.textContent = "";
    requests.forEach(function (r) {
      var label = requestLines(r).filter(Boolean).join("\n");
      element.appendChild(itemWithButton("answer", label, "已处理", function (button) {
        markDone(r, button);
      }));
    });
  }

  function documentLabel(d) {
    var item = d.missing_item === null ? "待商户确认" : (d.missing_item || "补充材料");
    return "#" + d.document_id + " " + d.case_id + " · " + item + " · " + d.mime + " · " +
      Math.ceil(d.size / 1024) + " KB · " + d.uploaded_at.replace("T", " ");
  }

  function download(d) {
    session.fetch("/agent/documents/" + d.document_id).then(check).then(function (response) {
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

  function showDocuments(documents) {
    var element = $("documents");
    element.textContent = "";
    if (!documents.length) {
      var none = document.createElement("li");
      none.textContent = "没有材料";
      element.appendChild(none);
      return;
    }
    documents.forEach(function (d) {
      element.appendChild(itemWithButton("doc", documentLabel(d), "下载", function () {
        download(d);
      }));
    });
  }

  function documentsUrl() {
    var caseId = $("case-id").value.trim().toUpperCase();
    return "/agent/documents" + (caseId ? "?case_id=" + encodeURIComponent(caseId) : "");
  }

  function refreshDocuments() {
    if (!session.token()) { return Promise.resolve(); }
    return get(documentsUrl()).then(function (result) { showDocuments(result.documents || []); });
  }

  function refresh() {
    if (!session.token()) { return; }
    $("status").textContent = "加载中…";
    Promise.all([get("/agent/conversations"), get("/agent/after-hours"), refreshDocuments()])
      .then(function (results) {
        var waiting = results[0].conversations, requests = results[1].requests;
        $("waiting-count").textContent = String(waiting.length);
        $("after-hours-count").textContent = String(requests.length);
        list($("waiting"), waiting.map(waitingLines));
        showRequests(requests);
        $("status").textContent = "";
      }).catch(function (error) { $("status").textContent = error.message; });
  }

  $("filter").addEventListener("submit", function (event) {
    event.preventDefault();
    refreshDocuments().catch(function (error) { $("status").textContent = error.message; });
  });
  $("refresh").addEventListener("click", refresh);

  session.update();
  refresh();
})();
