// POS机解除停用助手 chat widget. Talks to Rasa's REST channel on the same origin.
// Every text is rendered with textContent: bot or user text can never inject HTML.
(function () {
  "use strict";
  var STORE_KEY = "posbot.chat.v1";
  var WEBHOOK = "/webhooks/rest/webhook";
  // The server binds a conversation to the client that started it: its first reply carries a
  // session token, which every later message and inbox poll must send back.
  var SESSION_HEADER = "X-Posbot-Session";
  var GREETING = "你好";
  var MAX_KEPT = 200;
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var typing = document.getElementById("typing");
  var sendButton = document.getElementById("send");

  function newSender() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
      if (saved && typeof saved.sender === "string" && Array.isArray(saved.messages)) {
        if (typeof saved.token !== "string") { saved.token = ""; }
        return saved;
      }
    } catch (e) { /* storage unavailable or corrupt: start afresh */ }
    return freshState();
  }

  function freshState() { return { sender: newSender(), token: "", messages: [] }; }

  function headers() {
    var result = { "Content-Type": "application/json" };
    if (state.token) { result[SESSION_HEADER] = state.token; }
    return result;
  }

  var state = load();

  function save() {
    state.messages = state.messages.slice(-MAX_KEPT);
    try { window.localStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function render(message, isLast) {
    var row = document.createElement("div");
    row.className = "msg " + message.from;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = message.text || "";
    row.appendChild(bubble);
    if (message.buttons && message.buttons.length && isLast) {
      var replies = document.createElement("div");
      replies.className = "quick-replies";
      message.buttons.forEach(function (button) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = button.title;
        b.addEventListener("click", function () { send(button.payload, button.title); });
        replies.appendChild(b);
      });
      row.appendChild(replies);
    }
    log.appendChild(row);
  }

  function renderAll() {
    log.textContent = "";
    var lastBot = -1;
    state.messages.forEach(function (m, i) { if (m.from === "bot") { lastBot = i; } });
    state.messages.forEach(function (m, i) { render(m, i === lastBot && i === state.messages.length - 1); });
    scrollDown();
  }

  function add(message) {
    state.messages.push(message);
    save();
    renderAll();
  }

  function setBusy(busy) {
    typing.hidden = !busy;
    sendButton.disabled = busy;
    if (busy) { scrollDown(); }
  }

  function post(payload, retried) {
    return fetch(WEBHOOK, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ sender: state.sender, message: payload })
    }).then(function (response) {
      if (response.status === 403 && !retried) {
        // This browser lost the conversation's token: continue in a new conversation.
        var messages = state.messages;
        state = freshState();
        state.messages = messages;
        save();
        return post(payload, true);
      }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      var token = response.headers.get(SESSION_HEADER);
      if (token) { state.token = token; save(); }
      return response.json();
    });
  }

  function send(payload, shown) {
    var text = (shown || payload || "").trim();
    if (!text) { return; }
    add({ from: "user", text: text });
    setBusy(true);
    post(payload, false).then(function (replies) {
      setBusy(false);
      (replies || []).forEach(function (reply) {
        if (reply.text || (reply.buttons && reply.buttons.length)) {
          add({ from: "bot", text: reply.text || "", buttons: reply.buttons || [] });
        }
      });
    }).catch(function () {
      setBusy(false);
      add({ from: "system", text: "网络异常，消息可能没有送达，请稍后重试。" });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
  });

  // Documents: one file at a time, to the verified merchant's case (the server checks it).
  var UPLOAD = "/chat/upload";
  var MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
  var attach = document.getElementById("attach");
  var drop = document.getElementById("drop");

  function upload(file) {
    if (!file) { return; }
    add({ from: "user", text: "[文件] " + (file.name || "未命名") });
    if (file.size > MAX_UPLOAD_BYTES) {
      add({ from: "system", text: "文件超过10MB，没有发送。请压缩后再试。" });
      return;
    }
    if (!state.token) {
      add({ from: "system", text: "请先发一条消息开始对话并验证身份，再上传材料。" });
      return;
    }
    var form = new FormData();
    form.append("file", file, file.name || "upload");
    var options = { method: "POST", headers: {}, body: form };
    options.headers[SESSION_HEADER] = state.token;
    setBusy(true);
    fetch(UPLOAD + "?sender=" + encodeURIComponent(state.sender), options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return Array.isArray(body) ? body : (body.messages || []);
      });
    }).then(function (replies) {
      setBusy(false);
      if (!replies.length) { add({ from: "system", text: "上传没有成功，请稍后重试。" }); }
      replies.forEach(function (reply) {
        add({ from: "bot", text: reply.text || "", buttons: reply.buttons || [] });
      });
    }).catch(function () {
      setBusy(false);
      add({ from: "system", text: "网络异常，文件可能没有送达，请稍后重试。" });
    });
  }

  attach.addEventListener("change", function () {
    var file = attach.files && attach.files[0];
    attach.value = "";
    upload(file);
  });
  var dragDepth = 0;
  document.addEventListener("dragenter", function (event) {
    event.preventDefault();
    dragDepth += 1;
    drop.hidden = false;
  });
  document.addEventListener("dragover", function (event) { event.preventDefault(); });
  document.addEventListener("dragleave", function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) { drop.hidden = true; }
  });
  document.addEventListener("drop", function (event) {
    event.preventDefault();
    dragDepth = 0;
    drop.hidden = true;
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) { upload(files[0]); }
  });

  document.getElementById("reset").addEventListener("click", function () {
    state = freshState();
    save();
    renderAll();
    send(GREETING);
  });

  function poll() {
    if (document.hidden || !state.token) { return; }
    var options = { headers: {} };
    options.headers[SESSION_HEADER] = state.token;
    fetch("/chat/inbox?sender=" + encodeURIComponent(state.sender), options).then(function (response) {
      return response.ok ? response.json() : { messages: [] };
    }).then(function (result) {
      (result.messages || []).forEach(function (message) {
        var from = message.from === "agent" || message.from === "notice" ? message.from : "bot";
        add({ from: from, text: message.text, buttons: message.buttons || [] });
      });
    }).catch(function () { /* offline: try again later */ });
  }
  window.setInterval(poll, 3000);
  // Status notifications waiting since the last visit show at once, not after the first tick.
  poll();

  renderAll();
  // A question in the link (?q=, e.g. from the FAQ page) is only put into the input box: a
  // page that links or frames the widget must never send a message in the user's name.
  var question = new URLSearchParams(window.location.search).get("q");
  if (question) {
    window.history.replaceState(null, "", window.location.pathname);
    input.value = question.slice(0, Number(input.getAttribute("maxlength")) || 1000);
    input.focus();
  }
  if (!state.messages.length) {
    send(GREETING);
  }
})();
