// One-line embed: <script src="https://BOT-HOST/chat/static/embed.js" defer></script>
// Adds a floating button that opens the chat widget of the same bot in a frame.
(function () {
  "use strict";
  var script = document.currentScript;
  var origin = new URL(script.src).origin;
  var frame = null;
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = "POS机停用咨询";
  button.setAttribute("style", "position:fixed;right:16px;bottom:16px;z-index:2147483000;" +
    "border:0;border-radius:24px;padding:12px 18px;background:#1565c0;color:#fff;font-size:15px;" +
    "box-shadow:0 2px 8px rgba(0,0,0,.25);cursor:pointer");
  button.addEventListener("click", function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/chat";
      frame.title = "POS机解除停用助手";
      frame.setAttribute("style", "position:fixed;right:16px;bottom:72px;z-index:2147483000;" +
        "width:min(380px,calc(100vw - 32px));height:min(600px,calc(100vh - 96px));border:0;" +
        "border-radius:12px;box-shadow:0 4px 16px rgba(0,0,0,.3);background:#fff");
      document.body.appendChild(frame);
    } else {
      frame.hidden = !frame.hidden;
    }
  });
  document.body.appendChild(button);
})();
