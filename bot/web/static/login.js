// Token login of the agents' and operators' pages (copilot, desk, dashboard, content).
// The bearer token lives in sessionStorage under the page's key (pages with one key share one
// login in a tab), goes with every request, and is dropped when the server refuses it.
// A page calls posbotLogin({...}) before its own code runs; the page's form #login holds the
// input #token, and an optional #logout button ends the login.
window.posbotLogin = (function () {
  "use strict";
  var DEFAULT_REFUSED = [401];

  return function (options) {
    var form = document.getElementById("login");
    var input = document.getElementById("token");
    var logout = document.getElementById("logout");
    var refused = options.refused || DEFAULT_REFUSED;
    var shown = options.shown || function () {};

    function token() { return window.sessionStorage.getItem(options.key) || ""; }

    function update() {
      var has = !!token();
      form.hidden = has;
      if (logout) { logout.hidden = !has; }
      shown(has);
    }

    function end() {
      window.sessionStorage.removeItem(options.key);
      update();
    }

    // fetch() with the token; a refused token ends the login and rejects with the page's
    // message (or the server's Chinese one, a JSON body's "zh").
    function authorizedFetch(path, init) {
      var request = Object.assign({}, init || {});
      request.headers = Object.assign({}, request.headers || {}, { Authorization: "Bearer " + token() });
      return window.fetch(path, request).then(function (response) {
        if (refused.indexOf(response.status) < 0) { return response; }
        end();
        return response.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(body.zh || options.refusedMessage || "请重新登录");
        });
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = input.value.trim();
      input.value = "";
      if (!value) { return; }
      window.sessionStorage.setItem(options.key, value);
      update();
      if (options.onLogin) { options.onLogin(); }
    });
    if (logout) {
      logout.addEventListener("click", function () {
        end();
        if (options.onLogout) { options.onLogout(); }
      });
    }

    return { token: token, fetch: authorizedFetch, update: update, end: end };
  };
}());
