// Agent copilot page: every value is rendered with textContent.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var callId = newCallId();
  var session = window.posbotLogin({
    key: "posbot.copilot.token", // the desk's too: one login for both pages
    refusedMessage: "令牌无效，请重新登录",
    shown: function (has) {
      $("turn").hidden = !has;
      $("call-label").textContent = "通话 " + callId;
    }
  });

  function newCallId() { return "call-" + Date.now().toString(36); }

  function list(element, items) {
    element.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item;
      element.appendChild(li);
    });
  }

  function caseText(card) {
    if (!card) { return "未找到匹配的商户/终端/单号"; }
    var lines = ["商户：" + card.merchant_id + " " + card.merchant_name + "（注册手机 " + card.registered_phone + "）"];
    card.terminals.forEach(function (t) {
      lines.push("终端 " + t.terminal_id + " " + (t.pos_type || "") + " 停用原因：" + (t.suspension_reason || "无"));
    });
    var c = card["case"];
    if (c) {
      lines.push("申请 " + c.case_id + "：" + c.status + (c.overdue ? "（已超期）" : ""));
      lines.push("提交：" + (c.submitted_at || "—") + "  预计：" + (c.window_start || "—") + " 至 " + (c.window_end || "—"));
      if (c.missing_documents.length) { lines.push("缺材料：" + c.missing_documents.join("；")); }
      if (c.rejection_reason) { lines.push("驳回原因：" + c.rejection_reason); }
      (card.documents || []).forEach(function (d) {
        lines.push("已收材料 #" + d.document_id + "：" + (d.missing_item === null ? "待商户确认" : (d.missing_item || "补充材料")) +
          "（" + d.mime + "，" + Math.ceil(d.size / 1024) + " KB，" + d.uploaded_at.replace("T", " ") + "）");
      });
    } else {
      lines.push("暂无申请");
    }
    return lines.join("\n");
  }

  function show(result) {
    $("warnings-box").hidden = !result.warnings.length;
    list($("warnings"), result.warnings);
    list($("intents"), result.intents.map(function (i) { return i.name + "  " + Math.round(i.confidence * 100) + "%"; }));
    $("reply").textContent = result.suggested_reply;
    $("case").textContent = Object.keys(result.known_ids).length ? caseText(result["case"]) : "尚未识别到商户号/终端号/单号";
    list($("steps"), result.next_steps);
    list($("transcript"), result.transcript);
  }

  $("new-call").addEventListener("click", function () {
    callId = newCallId();
    ["intents", "steps", "transcript", "warnings"].forEach(function (id) { $(id).textContent = ""; });
    $("reply").textContent = "";
    $("case").textContent = "尚未识别到商户号/终端号/单号";
    session.update();
  });

  $("turn").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("said").value.trim();
    if (!text) { return; }
    $("status").textContent = "分析中…";
    session.fetch("/copilot/suggest", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ call_id: callId, text: text })
    }).then(function (response) {
      if (!response.ok) { throw new Error("请求失败（" + response.status + "）"); }
      return response.json();
    }).then(function (result) {
      $("status").textContent = "";
      $("said").value = "";
      show(result);
    }).catch(function (error) { $("status").textContent = error.message; });
  });

  $("copy").addEventListener("click", function () {
    var text = $("reply").textContent;
    if (navigator.clipboard && text) {
      navigator.clipboard.writeText(text).then(function () { $("status").textContent = "已复制"; },
        function () { $("status").textContent = "复制失败，请手动选择文本"; });
    }
  });

  session.update();
})();
