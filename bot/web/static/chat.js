// POS机解除停用助手 chat widget. Talks to Rasa's REST channel on the same origin.
// Every text is rendered with textContent: bot or user text can never inject HTML.
(function () {
  "use strict";
  var STORE_KEY = "posbot.chat.v1";
  var WEBHOOK = "/webhooks/rest/webhook";
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
        return saved;
      }
    } catch (e) { /* storage unavailable or corrupt: start afresh */ }
    return { sender: newSender(), messages: [] };
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

  function send(payload, shown) {
    var text = (shown || payload || "").trim();
    if (!text) { return; }
    add({ from: "user", text: text });
    setBusy(true);
    fetch(WEBHOOK, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: payload })
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (replies) {
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

  document.getElementById("reset").addEventListener("click", function () {
    state = { sender: newSender(), messages: [] };
    save();
    renderAll();
    send("/greet", "你好");
  });

  function poll() {
    if (document.hidden) { return; }
    fetch("/chat/inbox?sender=" + encodeURIComponent(state.sender)).then(function (response) {
      return response.ok ? response.json() : { messages: [] };
    }).then(function (result) {
      (result.messages || []).forEach(function (message) {
        add({ from: message.from === "agent" ? "agent" : "bot", text: message.text });
      });
    }).catch(function () { /* offline: try again later */ });
  }
  window.setInterval(poll, 3000);

  renderAll();
  var question = new URLSearchParams(window.location.search).get("q");
  if (question) {
    window.history.replaceState(null, "", window.location.pathname);
    send(question);
  } else if (!state.messages.length) {
    send("/greet", "你好");
  }
})();
