// FAQ search: the question goes through the bot's NLU and the page jumps to the answer.
(function () {
  "use strict";
  var form = document.getElementById("faq-search");
  var input = document.getElementById("q");
  var notice = document.getElementById("notice");
  var ask = document.getElementById("ask");

  function chatLink(question) {
    var link = document.createElement("a");
    link.href = "/chat?q=" + encodeURIComponent(question);
    link.textContent = "问智能助手";
    return link;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question) { return; }
    ask.href = "/chat?q=" + encodeURIComponent(question);
    notice.textContent = "";
    Array.prototype.forEach.call(document.querySelectorAll(".topic.hit"), function (el) {
      el.classList.remove("hit");
    });
    fetch("/faq/search", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ q: question })
    }).then(function (response) { return response.json(); }).then(function (result) {
      var topic = result.anchor && document.getElementById(result.anchor);
      if (topic) {
        topic.classList.add("hit");
        topic.scrollIntoView({ behavior: "smooth", block: "start" });
        window.location.hash = result.anchor;
      } else {
        notice.textContent = "没有找到对应的常见问题，可以";
        notice.appendChild(chatLink(question));
      }
    }).catch(function () {
      notice.textContent = "搜索暂时不可用，可以";
      notice.appendChild(chatLink(question));
    });
  });
})();
