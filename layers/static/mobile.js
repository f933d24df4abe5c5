/* weiwang phone page /m/ for grid workers: 我的待办 (overdue first), the detail with 开始处置 / 反馈,
 * 上报 from the browser's geolocation (WGS84), notices. Plain ES2017; user text only through
 * textContent (ww.el). Needs common.js. */
"use strict";

(function () {
  var d = ww.data();
  var el = ww.el;
  var LABELS = d.actions;
  var HISTORY = {report: "上报"};
  Object.keys(LABELS).forEach(function (k) { HISTORY[k] = LABELS[k]; });
  var RUNNING = {"已交办": 1, "处置中": 1, "已反馈": 1};
  var position = null;   // {lon, lat, accuracy} from the browser (WGS84)
  var current = null;    // the incident shown in the detail

  /* POST photos (multipart) with the bearer token; resolves to the API's answer or rejects {message}. */
  function upload(id, files) {
    if (!files || !files.length) return Promise.resolve(null);
    var fd = new FormData();
    Array.prototype.forEach.call(files, function (f) { fd.append("files", f); });
    var headers = {"Accept": "application/json"};
    var t = ww.token();
    if (t) headers["Authorization"] = "Bearer " + t;
    return fetch(d.api + "/incidents/" + encodeURIComponent(id) + "/photos", {
      method: "POST", headers: headers, body: fd, credentials: "same-origin",
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (resp.ok) return body;
        var err = body && body.error ? body.error : {};
        throw {status: resp.status, message: err.message_zh || ("照片上传失败（HTTP " + resp.status + "）")};
      });
    });
  }
  function photoInput(id) {
    return el("input", {type: "file", id: id, accept: "image/jpeg,image/png,image/webp", multiple: true}, []);
  }
  function thumbs(list) {
    return el("div", {class: "ww-thumbs"}, list.map(function (p) {
      return el("a", {href: p.url, target: "_blank", rel: "noopener"}, [el("img", {src: p.thumb_url, alt: "照片", class: "ww-thumb"}, [])]);
    }));
  }

  function show(tab) {
    Array.prototype.forEach.call(document.querySelectorAll(".ww-m-tab"), function (s) {
      s.classList.toggle("ww-hidden", s.id !== tab);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".ww-m-tabs button"), function (b) {
      b.classList.toggle("ww-on", b.getAttribute("data-tab") === tab);
    });
    window.scrollTo(0, 0);
  }
  Array.prototype.forEach.call(document.querySelectorAll(".ww-m-tabs button"), function (b) {
    b.addEventListener("click", function () {
      var tab = b.getAttribute("data-tab");
      show(tab);
      if (tab === "ww-m-todo") loadTodo();
      if (tab === "ww-m-notices") loadNotices(true);
    });
  });

  function left(inc) {
    if (!inc.deadline) return {cls: "", text: "未定时限"};
    var ms = new Date(inc.deadline).getTime() - Date.now();
    if (!RUNNING[inc.state]) return {cls: "", text: "时限 " + ww.fmtTime(inc.deadline)};
    var h = Math.abs(ms) / 3600e3;
    var span = h < 1 ? Math.round(h * 60) + " 分钟" : (h < 48 ? h.toFixed(1) + " 小时" : Math.floor(h / 24) + " 天");
    if (inc.overdue || ms < 0) return {cls: "ww-due-over", text: "已超期 " + span};
    return {cls: ms <= 2 * 3600e3 ? "ww-due-soon" : "ww-due-ok", text: "剩余 " + span};
  }

  /* ---- 我的待办 ---- */
  function loadTodo() {
    return ww.api("/my/todo").then(function (body) {
      var list = document.getElementById("ww-m-list");
      list.textContent = "";
      window.wwTodo = body.items;
      if (!body.items.length) { list.appendChild(el("li", {class: "ww-muted"}, ["暂无待办事件"])); return; }
      body.items.forEach(function (inc) {
        var t = left(inc);
        var g = inc.grid || {};
        var li = el("li", {class: inc.overdue ? "ww-m-over" : "", "data-id": inc.id, tabindex: "0"}, [
          el("div", {class: "ww-m-head"}, [el("span", null, [(inc.urgent ? "【急】" : "") + inc.category]), el("span", null, [inc.state])]),
          el("div", {class: t.cls}, [t.text]),
          el("div", {class: "ww-muted"}, [(g.micro_name || g.micro_code || "网格外") + " · " + inc.id]),
          el("div", {class: "ww-desc"}, [(inc.description || "").slice(0, 60)]),
        ]);
        li.addEventListener("click", function () { openDetail(inc.id); });
        list.appendChild(li);
      });
    }).catch(function (err) {
      if (err.status !== 401) ww.msg("待办加载失败：" + err.message, "error");
    });
  }

  /* ---- detail ---- */
  function openDetail(id, note) {
    var enc = encodeURIComponent(id);
    return Promise.all([ww.api("/incidents/" + enc), ww.api("/incidents/" + enc + "/events"),
                        ww.api("/incidents/" + enc + "/photos")]).then(function (r) {
      current = r[0];
      renderDetail(r[0], r[1].items || [], note, r[2].items || []);
      show("ww-m-detail");
    }).catch(function (err) { ww.msg("加载失败：" + err.message, "error"); });
  }

  function renderDetail(inc, events, note, photos) {
    var box = document.getElementById("ww-m-detail");
    var g = inc.grid || {};
    var t = left(inc);
    var msgBox = el("div", {id: "ww-detail-msg", class: "ww-msg" + (note ? " ww-ok" : ""), role: "status"}, [note || ""]);
    var formBox = el("div", null, []);
    var buttons = (inc.my_actions || []).map(function (a) {
      return el("button", {type: "button", class: "ww-btn", "data-action": a,
                           onclick: function () { act(inc, a, formBox, msgBox); }}, [LABELS[a] || a]);
    });
    box.textContent = "";
    box.appendChild(el("button", {type: "button", class: "ww-btn ww-btn-2", id: "ww-m-back",
                                  onclick: function () { show("ww-m-todo"); loadTodo(); }}, ["← 返回待办"]));
    box.appendChild(el("h2", null, [(inc.urgent ? "【紧急】" : "") + inc.category + " · ",
                                    el("span", {id: "ww-detail-state"}, [inc.state])]));
    box.appendChild(el("p", {class: "ww-desc"}, [inc.description]));
    box.appendChild(el("div", {class: t.cls}, [t.text + (inc.deadline ? "（" + ww.fmtTime(inc.deadline) + "）" : "")]));
    box.appendChild(el("div", {class: "ww-muted"}, ["编号 " + inc.id + " · " + (g.micro_name || g.micro_code || "网格外")]));
    if (inc.address) box.appendChild(el("div", {class: "ww-muted"}, ["地址：" + inc.address]));
    box.appendChild(el("div", {class: "ww-actions", id: "ww-actions"},
                       buttons.length ? buttons : [el("span", {class: "ww-muted"}, ["当前无需您操作"])]));
    box.appendChild(formBox);
    box.appendChild(msgBox);
    box.appendChild(el("h2", null, ["办理过程"]));
    box.appendChild(el("ol", {class: "ww-history", id: "ww-history"}, events.map(function (e) {
      var p = e.payload || {};
      var mine = (photos || []).filter(function (ph) { return ph.event_seq === e.seq; });
      return el("li", {"data-action": e.action}, [ww.fmtTime(e.at) + " ", el("b", null, [HISTORY[e.action] || e.action]),
        " " + e.to_state + (p.note || p.reason ? "：" + (p.note || p.reason) : ""), mine.length ? thumbs(mine) : null]);
    })));
  }

  function act(inc, a, formBox, msgBox) {
    formBox.textContent = "";
    if (a !== "feedback" && a !== "verify_fail" && a !== "void" && a !== "defer") { send(inc, a, {}, msgBox); return; }
    var field = a === "feedback" ? "note" : "reason";
    var text = el("textarea", {name: field, id: "ww-m-note", rows: "4", required: true,
                               placeholder: a === "feedback" ? "请填写处置情况" : "请填写原因"}, []);
    var submit = el("button", {type: "submit", class: "ww-btn", id: "ww-actform-submit"}, ["提交" + (LABELS[a] || "")]);
    var files = a === "feedback" ? photoInput("ww-m-feedback-photos") : null;
    var form = el("form", {class: "ww-form ww-actform", id: "ww-actform"}, [
      el("label", {for: "ww-m-note"}, [a === "feedback" ? "处置情况" : "原因"]), text,
      files ? el("label", {for: "ww-m-feedback-photos"}, ["现场照片（可选，最多 3 张，每张 ≤ 5 MB）"]) : null, files,
      el("div", {class: "ww-form-row"}, [submit]),
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!text.value.trim()) { msgBox.textContent = "请填写内容"; msgBox.className = "ww-msg ww-error"; return; }
      if (files && files.files.length > 3) { msgBox.textContent = "最多 3 张照片"; msgBox.className = "ww-msg ww-error"; return; }
      var body = {};
      body[field] = text.value.trim();
      submit.disabled = true;
      send(inc, a, body, msgBox, files ? files.files : null).then(function () { submit.disabled = false; });
    });
    formBox.appendChild(form);
    text.focus();
  }

  function send(inc, a, body, msgBox, files) {
    var payload = {action: a};
    Object.keys(body).forEach(function (k) { payload[k] = body[k]; });
    return ww.api("/incidents/" + encodeURIComponent(inc.id) + "/actions", {method: "POST", body: payload}).then(function () {
      return upload(inc.id, files).then(function (up) {
        return openDetail(inc.id, "已" + (LABELS[a] || a) + "。" + (up ? "照片 " + up.items.length + " 张已上传。" : ""));
      }, function (err) {
        return openDetail(inc.id, "已" + (LABELS[a] || a) + "，但照片未上传：" + err.message);
      });
    }).catch(function (err) {
      msgBox.textContent = err.message;
      msgBox.className = "ww-msg ww-error";
    });
  }

  /* ---- 上报 from the phone's position ---- */
  var form = document.getElementById("ww-m-form");
  if (form) {
    var status = document.getElementById("ww-m-status");
    var pos = document.getElementById("ww-m-pos");
    document.getElementById("ww-m-locate").addEventListener("click", function () {
      if (!navigator.geolocation) { pos.textContent = "此浏览器不支持定位"; return; }
      pos.textContent = "正在定位…";
      navigator.geolocation.getCurrentPosition(function (p) {
        position = {lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy};
        pos.textContent = "已定位：" + position.lon.toFixed(6) + ", " + position.lat.toFixed(6) +
          (position.accuracy ? "（精度约 " + Math.round(position.accuracy) + " 米）" : "");
      }, function (err) {
        pos.textContent = err.code === 1 ? "定位被拒绝，请在浏览器设置中允许定位" : "定位失败，请到开阔处重试";
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 0});
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var cat = document.getElementById("ww-m-category").value;
      var text = document.getElementById("ww-m-description").value.trim();
      if (!cat) { status.textContent = "请选择事件类别"; return; }
      if (!text) { status.textContent = "请填写事件描述"; return; }
      if (!position) { status.textContent = "请先点击“定位我的位置”"; return; }
      var submit = document.getElementById("ww-m-submit");
      submit.disabled = true;
      status.textContent = "正在提交…";
      ww.api("/incidents", {method: "POST", body: {
        lon: Math.round(position.lon * 1e7) / 1e7, lat: Math.round(position.lat * 1e7) / 1e7, crs: "wgs84",
        category: cat, description: text, address: document.getElementById("ww-m-address").value.trim(),
        urgent: document.getElementById("ww-m-urgent").checked,
      }}).then(function (inc) {
        var chosen = document.getElementById("ww-m-report-photos").files;
        return upload(inc.id, chosen).then(function (up) {
          inc.wwPhotos = up ? "，照片 " + up.items.length + " 张" : "";
          return inc;
        }, function (err) {
          inc.wwPhotos = "；照片未上传：" + err.message;
          return inc;
        });
      }).then(function (inc) {
        submit.disabled = false;
        form.reset();
        status.textContent = "";
        window.wwLastCreated = inc;
        var g = inc.grid || {};
        ww.msg("已上报：" + inc.id + "，" + (g.micro_name || "网格外") + "，" +
               (inc.assignee ? "交办 " + (inc.assignee.name || inc.assignee.person_id) : "进入社区研判队列") + inc.wwPhotos + "。", "ok");
        show("ww-m-todo");
        loadTodo();
      }).catch(function (err) {
        submit.disabled = false;
        status.textContent = "提交失败：" + err.message;
      });
    });
  }

  /* ---- notices ---- */
  function loadNotices(markRead) {
    return ww.notices(function (n) { openDetail(n.incident_id); }).then(function (body) {
      if (markRead && body.unread) ww.api("/notices/read", {method: "POST", body: {}}).then(function () { loadNotices(false); });
    }).catch(function () { /* the badge stays */ });
  }
  document.getElementById("ww-notices-link").addEventListener("click", function (e) {
    e.preventDefault();
    show("ww-m-notices");
    loadNotices(true);
  });

  window.wwOpen = openDetail;
  window.wwReady = Promise.all([loadTodo(), loadNotices(false)]).then(function () {
    window.wwLoaded = true;
    setInterval(function () {
      if (!document.getElementById("ww-m-todo").classList.contains("ww-hidden")) loadTodo();
    }, 5000);
  });
})();
