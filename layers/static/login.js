/* weiwang map login: POST /auth/login, keep the token (localStorage + cookie), go back. */
"use strict";

(function () {
  var cfg = JSON.parse(document.getElementById("ww-data").textContent);
  var form = document.getElementById("ww-login");
  var box = document.getElementById("ww-msg");

  function say(text, kind) {
    box.textContent = text;
    box.className = "ww-msg" + (kind ? " ww-" + kind : "");
  }

  /* Only same-site absolute paths: "/maps/…", never "//host" or "https://…". */
  function safeNext(n) {
    return typeof n === "string" && n.charAt(0) === "/" && n.charAt(1) !== "/" && n.charAt(1) !== "\\" ? n : "/maps/";
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    say("正在登录…", "info");
    fetch(cfg.api + "/auth/login", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      credentials: "same-origin",
      body: JSON.stringify({username: form.username.value.trim(), password: form.password.value}),
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) {
          var err = body && body.error ? body.error : {};
          say(err.message_zh || "登录失败（HTTP " + resp.status + "）", "error");
          return;
        }
        try { window.localStorage.setItem("weiwang_token", body.access_token); } catch (x) { /* private mode */ }
        var maxAge = Math.max(60, Math.round((new Date(body.expires_at).getTime() - Date.now()) / 1000)) || 28800;
        document.cookie = "weiwang_token=" + encodeURIComponent(body.access_token) + "; path=/; max-age=" + maxAge +
          "; SameSite=Strict" + (window.location.protocol === "https:" ? "; Secure" : "");
        say("登录成功，正在跳转…", "ok");
        window.location.assign(safeNext(cfg.next));
      });
    }).catch(function () { say("无法连接服务器", "error"); });
  });
})();
