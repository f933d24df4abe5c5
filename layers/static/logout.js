/* weiwang: log out — forget the token (localStorage and cookie), then the login page. */
"use strict";

(function () {
  try { window.localStorage.removeItem("weiwang_token"); } catch (e) { /* private mode */ }
  document.cookie = "weiwang_token=; path=/; max-age=0; SameSite=Strict";
  window.location.replace("/maps/login?next=/home");
})();
