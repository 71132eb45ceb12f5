// The operators' content page: reply texts and operator facts, edited live (docs/content.md).
(function () {
  "use strict";
  var API = "/ops/content/api";
  var KIND_PATH = { response: "responses", fact: "facts" };
  var KIND_LABEL = { response: "回复", fact: "运营信息" };
  var notice = document.getElementById("notice");
  var content = document.getElementById("content");
  var itemsBox = document.getElementById("items");
  var historyBox = document.getElementById("history");
  var filter = document.getElementById("filter");
  var items = [];
  var session = window.posbotLogin({
    key: "posbot-ops-token", // the dashboard's too: one login for both
    refused: [401, 403],
    shown: function (has) { content.hidden = !has; },
    onLogin: function () {
      notice.textContent = "";
      refresh();
    },
    onLogout: function () { notice.textContent = "已退出。"; }
  });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function call(method, path, body) {
    var options = { method: method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return session.fetch(API + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.message || ("HTTP " + response.status)); }
        return data;
      });
    });
  }

  function card(item) {
    var box = el("div", "content-item" + (item.edited ? " edited" : ""));
    box.dataset.name = item.name;
    box.dataset.kind = item.kind;
    box.appendChild(el("h3", "", item.name));
    var meta = KIND_LABEL[item.kind] + (item.edited ? " · 已修改（" + item.updated_by + "，" + item.updated_at + "）" : " · 默认");
    if (item.placeholders.length) { meta += " · 必须保留：" + item.placeholders.map(function (p) { return "{" + p + "}"; }).join(" "); }
    if (item.buttons.length) { meta += " · 按钮（不可改）：" + item.buttons.join(" / "); }
    box.appendChild(el("div", "meta", meta));
    var text = el(item.kind === "fact" && item.name !== "holidays" ? "input" : "textarea");
    text.value = item.text;
    text.setAttribute("aria-label", item.name);
    box.appendChild(text);
    if (item.edited) { box.appendChild(el("div", "default", "默认：" + (item.default || "（未配置）"))); }
    var actions = el("div", "actions");
    var save = el("button", "primary save", "保存");
    save.type = "button";
    var reset = el("button", "reset", "恢复默认");
    reset.type = "button";
    reset.disabled = !item.edited;
    var error = el("span", "error");
    actions.appendChild(save);
    actions.appendChild(reset);
    actions.appendChild(error);
    box.appendChild(actions);
    var path = "/" + KIND_PATH[item.kind] + "/" + encodeURIComponent(item.name);
    save.addEventListener("click", function () {
      error.textContent = "";
      call("PUT", path, { text: text.value }).then(function () {
        notice.textContent = "已保存，下一条消息起生效：" + item.name;
        return refresh();
      }).catch(function (failure) { error.textContent = failure.message; });
    });
    reset.addEventListener("click", function () {
      error.textContent = "";
      call("DELETE", path).then(function () {
        notice.textContent = "已恢复默认：" + item.name;
        return refresh();
      }).catch(function (failure) { error.textContent = failure.message; });
    });
    return box;
  }

  function render() {
    var query = filter.value.trim().toLowerCase();
    itemsBox.textContent = "";
    items.filter(function (item) {
      return !query || item.name.toLowerCase().indexOf(query) >= 0 || item.text.toLowerCase().indexOf(query) >= 0;
    }).forEach(function (item) { itemsBox.appendChild(card(item)); });
  }

  function renderHistory(edits) {
    historyBox.textContent = "";
    if (!edits.length) { historyBox.appendChild(el("p", "", "还没有修改。")); }
    edits.forEach(function (edit) {
      var row = el("div", "edit");
      row.dataset.id = edit.id;
      row.appendChild(el("div", "", "#" + edit.id + " " + edit.edited_at + " " + edit.operator_id + " · " + edit.action + " · " + edit.name));
      row.appendChild(el("pre", "old", "旧：" + (edit.old_text === null ? "（默认）" : edit.old_text)));
      row.appendChild(el("pre", "new", "新：" + (edit.new_text === null ? "（默认）" : edit.new_text)));
      var undo = el("button", "revert", "撤销这次修改");
      undo.type = "button";
      undo.addEventListener("click", function () {
        call("POST", "/edits/" + edit.id + "/revert").then(function () {
          notice.textContent = "已撤销修改 #" + edit.id;
          return refresh();
        }).catch(function (failure) { notice.textContent = failure.message; });
      });
      row.appendChild(undo);
      historyBox.appendChild(row);
    });
  }

  function refresh() {
    return Promise.all([call("GET", "/items"), call("GET", "/history")]).then(function (results) {
      items = results[0].items;
      render();
      renderHistory(results[1].edits);
    }).catch(function (failure) { notice.textContent = failure.message; });
  }

  filter.addEventListener("input", render);
  document.getElementById("filter-form").addEventListener("submit", function (event) { event.preventDefault(); });
  session.update();
  if (session.token()) { refresh(); }
}());
