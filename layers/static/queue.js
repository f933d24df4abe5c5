/* weiwang 事件办理 page: the community's incident list (filters, sort, time left) beside the map,
 * the detail panel with the history and one button per action the user may take now.
 * Plain ES2017; user text only through textContent (ww.el). Needs common.js. */
"use strict";

function wwQueue(map) {
  var d = ww.data();
  var el = ww.el;
  var st = d.style;
  document.body.classList.add("ww-queue-page");
  var grids = ww.drawGrids(map);
  var group = L.layerGroup().addTo(map);
  var items = [];           // incidents as the API shows them
  var byId = {};            // id → {inc, marker, row}
  var selected = null;      // selected incident id
  var sort = {key: "reported", dir: -1};
  var RUNNING = {"已交办": 1, "处置中": 1, "已反馈": 1};
  var FINAL = {"已结案": 1, "已合并": 1, "无效": 1};
  var LABELS = d.actions;   // action key → button label
  var HISTORY = {report: "上报"};
  Object.keys(LABELS).forEach(function (k) { HISTORY[k] = LABELS[k]; });

  function stateColor(s) { return st.states[s] || "#888888"; }
  function microText(inc) {
    var g = inc.grid || {};
    return g.micro_name || g.micro_code || "网格外";
  }
  function handlerText(inc) {
    return inc.assignee ? (inc.assignee.name || inc.assignee.person_id) : "研判队列";
  }
  function personName(id) {
    if (!id) return "—";
    if (id === "system") return "系统";
    if (id.slice(0, 5) === "user:") return id.slice(5);
    for (var i = 0; i < d.people.length; i++) if (d.people[i].person_id === id) return d.people[i].name;
    return id;
  }

  /* Time left: class ww-due-ok / ww-due-soon (≤ 2 h) / ww-due-over, and its text. */
  function due(inc) {
    if (!inc.deadline) return {cls: "", text: "—", rank: Infinity};
    var left = new Date(inc.deadline).getTime() - Date.now();
    var when = ww.fmtTime(inc.deadline);
    if (!RUNNING[inc.state]) return {cls: "", text: when, rank: left};
    if (inc.overdue || left < 0) {
      return {cls: "ww-due-over", text: when + "（超期 " + hours(-left) + "）", rank: left};
    }
    return {cls: left <= 2 * 3600e3 ? "ww-due-soon" : "ww-due-ok", text: when + "（剩 " + hours(left) + "）", rank: left};
  }
  function hours(ms) {
    var m = Math.round(ms / 60000);
    if (m < 60) return m + " 分钟";
    var h = Math.floor(m / 60);
    return h < 48 ? h + " 小时" + (m % 60 ? " " + (m % 60) + " 分" : "") : Math.floor(h / 24) + " 天";
  }

  /* ---- filters and sort ---- */
  function val(id) { var n = document.getElementById(id); return n ? n.value : ""; }
  function passes(inc) {
    var g = inc.grid || {};
    var s = val("ww-q-state"), c = val("ww-q-cat"), grid = val("ww-q-grid"), h = val("ww-q-handler");
    if (s && inc.state !== s) return false;
    if (c && inc.category !== c) return false;
    if (grid && g.micro_code !== grid && g.general_code !== grid) return false;
    if (h === "__queue" && inc.assignee) return false;
    if (h && h !== "__queue" && (!inc.assignee || inc.assignee.person_id !== h)) return false;
    if (document.getElementById("ww-q-overdue").checked && !inc.overdue) return false;
    var day = ww.fmtTime(inc.reported_at).slice(0, 10);
    var from = val("ww-q-from"), to = val("ww-q-to");
    if (from && day < from) return false;
    if (to && day > to) return false;
    return true;
  }
  var KEYS = {
    id: function (i) { return i.id; },
    category: function (i) { return i.category; },
    micro: function (i) { return microText(i); },
    handler: function (i) { return handlerText(i); },
    state: function (i) { return d.states.indexOf(i.state); },
    deadline: function (i) { return due(i).rank; },
    reported: function (i) { return i.reported_at || ""; },
  };
  function compare(a, b) {
    var ka = KEYS[sort.key](a), kb = KEYS[sort.key](b);
    if (ka < kb) return -sort.dir;
    if (ka > kb) return sort.dir;
    return a.id < b.id ? -1 : 1;
  }

  function handlerOptions() {
    var sel = document.getElementById("ww-q-handler");
    var keep = sel.value;
    var seen = {};
    items.forEach(function (i) { if (i.assignee) seen[i.assignee.person_id] = handlerText(i); });
    sel.textContent = "";
    sel.appendChild(el("option", {value: ""}, ["全部处置人"]));
    sel.appendChild(el("option", {value: "__queue"}, ["研判队列（未交办）"]));
    Object.keys(seen).sort().forEach(function (k) { sel.appendChild(el("option", {value: k}, [seen[k]])); });
    sel.value = keep;
  }

  function render() {
    var tbody = document.querySelector("#ww-queue tbody");
    tbody.textContent = "";
    var shown = items.filter(passes).sort(compare);
    var visibleIds = {};
    shown.forEach(function (inc) {
      var t = due(inc);
      var tr = el("tr", {"data-id": inc.id, tabindex: "0", class: inc.id === selected ? "ww-selected" : null}, [
        el("td", {class: "ww-mono"}, [inc.id]),
        el("td", null, [(inc.urgent ? "【急】" : "") + inc.category]),
        el("td", null, [microText(inc)]),
        el("td", null, [handlerText(inc)]),
        el("td", null, [el("span", {class: "ww-dot", style: "background:" + stateColor(inc.state)}, []), inc.state]),
        el("td", {class: "ww-due " + t.cls}, [t.text]),
      ]);
      tr.addEventListener("click", function () { select(inc.id, true); });
      tr.addEventListener("keydown", function (e) { if (e.key === "Enter") select(inc.id, true); });
      byId[inc.id].row = tr;
      visibleIds[inc.id] = true;
      tbody.appendChild(tr);
    });
    items.forEach(function (inc) {
      var m = byId[inc.id].marker;
      if (!m) return;
      if (visibleIds[inc.id]) { if (!group.hasLayer(m)) group.addLayer(m); }
      else if (group.hasLayer(m)) group.removeLayer(m);
    });
    document.getElementById("ww-q-count").textContent = String(shown.length);
    document.getElementById("ww-q-total").textContent = String(items.length);
    Array.prototype.forEach.call(document.querySelectorAll("#ww-queue th[data-sort]"), function (th) {
      th.classList.toggle("ww-sorted-asc", th.getAttribute("data-sort") === sort.key && sort.dir > 0);
      th.classList.toggle("ww-sorted-desc", th.getAttribute("data-sort") === sort.key && sort.dir < 0);
    });
  }

  ["ww-q-state", "ww-q-cat", "ww-q-grid", "ww-q-handler", "ww-q-overdue", "ww-q-from", "ww-q-to"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", render);
  });
  Array.prototype.forEach.call(document.querySelectorAll("#ww-queue th[data-sort]"), function (th) {
    th.addEventListener("click", function () {
      var k = th.getAttribute("data-sort");
      sort = {key: k, dir: sort.key === k ? -sort.dir : 1};
      render();
    });
  });

  /* ---- markers ---- */
  function icon(inc, on) {
    var mk = el("div", {class: "ww-mk ww-shape-" + (st.categories[inc.category] || "circle") +
                        (inc.overdue ? " ww-mk-overdue" : "") + (on ? " ww-mk-on" : ""),
                        style: "background:" + stateColor(inc.state) + (on ? ";transform:scale(1.5)" : "")}, []);
    return L.divIcon({className: "ww-incident", html: mk, iconSize: [16, 16], iconAnchor: [8, 8]});
  }
  function upsert(inc) {
    var old = byId[inc.id];
    if (old && old.marker) group.removeLayer(old.marker);
    var marker = null;
    if (inc.lon !== null && inc.lon !== undefined) {
      marker = L.marker(ww.toMap(inc.lon, inc.lat), {icon: icon(inc, inc.id === selected),
                                                     title: inc.id + " " + inc.category + " " + inc.state});
      marker.on("click", function () { select(inc.id, false); });
      group.addLayer(marker);
    }
    if (!old) items.push(inc);
    else items[items.indexOf(old.inc)] = inc;
    byId[inc.id] = {inc: inc, marker: marker, row: null};
  }
  function replaceAll(list) {
    var keep = {};
    list.forEach(function (inc) { keep[inc.id] = true; upsert(inc); });
    items = items.filter(function (inc) {
      if (keep[inc.id]) return true;
      if (byId[inc.id].marker) group.removeLayer(byId[inc.id].marker);
      delete byId[inc.id];
      return false;
    });
    handlerOptions();
    render();
  }

  /* ---- selection: row ↔ map ---- */
  function select(id, fromList) {
    var prev = selected;
    selected = id;
    [prev, id].forEach(function (k) {
      var it = k && byId[k];
      if (it && it.marker) it.marker.setIcon(icon(it.inc, k === id));
    });
    render();
    var it = byId[id];
    if (it && it.row && !fromList) it.row.scrollIntoView({block: "nearest"});
    if (it && it.marker && fromList) map.setView(it.marker.getLatLng(), Math.max(map.getZoom(), 17), {animate: false});
    window.wwSelected = id;
    return loadDetail(id);
  }

  /* ---- detail ---- */
  var detail = document.getElementById("ww-detail");
  function kv(label, value, cls) {
    return el("tr", null, [el("th", null, [label]), el("td", cls ? {class: cls} : null, [value])]);
  }
  function eventLine(e, photos) {
    var p = e.payload || {};
    var mine = (photos || []).filter(function (ph) { return ph.event_seq === e.seq; });
    var extra = p.note || p.reason || "";
    if (e.action === "assign") extra = "交给 " + personName(p.assignee_id) + (extra ? "：" + extra : "");
    if (e.action === "supervise") extra = "督办 " + personName(p.target_id) + (p.reassign ? "（改派）" : "") + (extra ? "：" + extra : "");
    if (e.action === "merge") extra = "并入 " + p.into;
    if (e.action === "reclassify") extra = "改为 " + p.category;
    return el("li", {"data-action": e.action}, [
      el("span", {class: "ww-hwhen"}, [ww.fmtTime(e.at)]),
      el("b", null, [HISTORY[e.action] || e.action]), " · " + personName(e.actor_id) +
      (e.from_state && e.from_state !== e.to_state ? " · " + e.from_state + " → " + e.to_state : " · " + e.to_state) +
      (extra ? " · " + extra : ""),
      mine.length ? el("div", {class: "ww-thumbs"}, mine.map(function (ph) {
        return el("a", {href: ph.url, target: "_blank", rel: "noopener"}, [el("img", {src: ph.thumb_url, alt: "照片", class: "ww-thumb"}, [])]);
      })) : null,
    ]);
  }

  function loadDetail(id) {
    var enc = encodeURIComponent(id);
    return Promise.all([ww.api("/incidents/" + enc), ww.api("/incidents/" + enc + "/events"),
                        ww.api("/incidents/" + enc + "/photos")]).then(function (r) {
      if (selected !== id) return;
      showDetail(r[0], r[1].items || [], null, r[2].items || []);
    }).catch(function (err) {
      detail.textContent = "";
      detail.appendChild(el("h2", null, ["事件详情"]));
      detail.appendChild(el("div", {class: "ww-msg ww-error"}, ["加载失败：" + err.message]));
    });
  }

  function showDetail(inc, events, note, photos) {
    upsert(inc);
    render();
    var t = due(inc);
    var g = inc.grid || {};
    var msgBox = el("div", {id: "ww-detail-msg", class: "ww-msg", role: "status"}, []);
    var formBox = el("div", {id: "ww-actform-box"}, []);
    var buttons = (inc.my_actions || []).map(function (a) {
      return el("button", {type: "button", class: "ww-btn", "data-action": a,
                           onclick: function () { openForm(inc, a, formBox, msgBox); }}, [LABELS[a] || a]);
    });
    detail.textContent = "";
    detail.appendChild(el("h2", null, ["事件详情 ", el("span", {class: "ww-mono"}, [inc.id])]));
    detail.appendChild(el("div", {class: "ww-card-title"}, [
      (inc.urgent ? "【紧急】" : "") + inc.category,
      el("span", {class: "ww-badge", id: "ww-detail-state", style: "background:" + stateColor(inc.state)}, [inc.state]),
    ]));
    detail.appendChild(el("p", {class: "ww-desc"}, [inc.description]));
    detail.appendChild(el("table", {class: "ww-kv"}, [
      kv("微网格", microText(inc) + (g.micro_code ? "（" + g.micro_code + "）" : "")),
      kv("地址", inc.address || "—"),
      inc.resident ? kv("居民", (inc.resident.name || "") + (inc.resident.phone ? "（" + inc.resident.phone + "）" : "")) : null,
      kv("处置人", handlerText(inc)),
      kv("上报时间", ww.fmtTime(inc.reported_at)),
      kv("办理时限", t.text, t.cls),
      kv("返工次数", String(inc.rework_count || 0)),
      inc.merged_into ? kv("并入", inc.merged_into) : null,
      inc.void_reason ? kv("作废原因", inc.void_reason) : null,
    ]));
    detail.appendChild(el("div", {class: "ww-actions", id: "ww-actions"},
      buttons.length ? buttons : [el("span", {class: "ww-muted"}, [FINAL[inc.state] ? "已办结，无可执行操作" : "您当前无可执行的操作"])]));
    detail.appendChild(formBox);
    detail.appendChild(msgBox);
    if (note) { msgBox.textContent = note; msgBox.className = "ww-msg ww-ok"; }
    detail.appendChild(el("h3", null, ["办理过程"]));
    detail.appendChild(el("ol", {class: "ww-history", id: "ww-history"}, events.map(function (e) { return eventLine(e, photos); })));
  }

  function select_(name, options, placeholder) {
    return el("select", {name: name, required: true},
      [el("option", {value: ""}, [placeholder])].concat(options.map(function (o) { return el("option", {value: o[0]}, [o[1]]); })));
  }
  function area(name, placeholder, required) {
    return el("textarea", {name: name, rows: "2", required: !!required,
                           placeholder: placeholder}, []);
  }

  /* The inputs each action needs (none: no form, the button acts at once). */
  function fields(inc, a) {
    if (a === "assign") {
      return [el("label", null, ["承办人"]), select_("assignee_id", d.people.map(function (p) {
        return [p.person_id, p.name + "（" + p.role + "，" + (d.microNames[p.grid_code] || p.grid_code) + "）"];
      }), "请选择承办人"), el("label", null, ["说明（可选）"]), area("note", "")];
    }
    if (a === "feedback") return [el("label", null, ["处置情况"]), area("note", "请填写处置情况", true)];
    if (a === "verify_fail") return [el("label", null, ["不通过原因"]), area("reason", "请填写原因", true)];
    if (a === "void") return [el("label", null, ["作废原因"]), area("reason", "请填写原因", true)];
    if (a === "defer") return [el("label", null, ["缓办原因"]), area("reason", "请填写原因", true)];
    if (a === "merge") {
      var others = items.filter(function (i) { return i.id !== inc.id && i.state !== "已合并" && i.state !== "无效"; })
        .map(function (i) { return [i.id, i.id + " " + i.category + " " + (i.description || "").slice(0, 20)]; });
      return [el("label", null, ["并入事件"]), select_("into", others, "请选择要并入的事件"),
              el("label", null, ["说明（可选）"]), area("note", "")];
    }
    if (a === "reclassify") {
      return [el("label", null, ["新类别"]), select_("category", d.categories.map(function (c) { return [c, c]; }), "请选择"),
              el("label", null, ["说明（可选）"]), area("note", "")];
    }
    if (a === "supervise") {
      var sel = el("select", {name: "target_id"}, [el("option", {value: ""}, ["上一级（按督办规则自动确定）"])].concat(
        d.people.map(function (p) {
          return el("option", {value: p.person_id}, [p.name + "（" + p.role + "，" + (d.microNames[p.grid_code] || p.grid_code) + "）"]);
        })));
      return [el("label", null, ["督办对象"]), sel,
              el("label", null, [el("input", {type: "checkbox", name: "reassign"}, []), " 同时改派给督办对象"]),
              el("label", null, ["督办意见（可选）"]), area("note", "")];
    }
    return null;
  }

  function openForm(inc, a, box, msgBox) {
    msgBox.textContent = "";
    msgBox.className = "ww-msg";
    box.textContent = "";
    var f = fields(inc, a);
    if (!f) { send(inc, a, {}, msgBox, null); return; }
    var submit = el("button", {type: "submit", class: "ww-btn", id: "ww-actform-submit"}, ["确定" + (LABELS[a] || "")]);
    var cancel = el("button", {type: "button", class: "ww-btn ww-btn-2", onclick: function () { box.textContent = ""; }}, ["取消"]);
    var form = el("form", {class: "ww-actform", id: "ww-actform", "data-action": a},
                  [el("div", {class: "ww-card-title"}, [LABELS[a] || a])].concat(f, [el("div", {class: "ww-form-row"}, [submit, cancel])]));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {};
      Array.prototype.forEach.call(form.elements, function (x) {
        if (!x.name) return;
        if (x.type === "checkbox") { if (x.checked) body[x.name] = true; return; }
        var v = x.value.trim();
        if (v) body[x.name] = v;
      });
      send(inc, a, body, msgBox, submit);
    });
    box.appendChild(form);
    var first = form.querySelector("select, textarea");
    if (first) first.focus();
  }

  function send(inc, a, body, msgBox, submit) {
    if (submit) submit.disabled = true;
    var payload = {action: a};
    Object.keys(body).forEach(function (k) { payload[k] = body[k]; });
    return ww.api("/incidents/" + encodeURIComponent(inc.id) + "/actions", {method: "POST", body: payload}).then(function () {
      var enc = encodeURIComponent(inc.id);
      return Promise.all([ww.api("/incidents/" + enc), ww.api("/incidents/" + enc + "/events"),
                          ww.api("/incidents/" + enc + "/photos")]).then(function (r) {
        showDetail(r[0], r[1].items || [], "已" + (LABELS[a] || a) + "。", r[2].items || []);
        loadNotices();
      });
    }).catch(function (err) {
      if (submit) submit.disabled = false;
      msgBox.textContent = err.message;
      msgBox.className = "ww-msg ww-error";
    });
  }

  /* ---- report from a click on the map (only for roles that may report) ---- */
  if (d.canReport) {
    var formPopup = L.popup({maxWidth: 320, minWidth: 260, className: "ww-form-popup"});
    map.on("click", function (e) {
      var cat = el("select", {id: "ww-form-category", required: true},
        [el("option", {value: ""}, ["请选择"])].concat(d.categories.map(function (c) { return el("option", {value: c}, [c]); })));
      var text = el("textarea", {id: "ww-form-description", rows: "3", required: true, placeholder: "请描述事件情况"}, []);
      var addr = el("input", {id: "ww-form-address", placeholder: "地址或地标（可选）"}, []);
      var urgent = el("input", {type: "checkbox", id: "ww-form-urgent"}, []);
      var rname = el("input", {id: "ww-form-resident-name", placeholder: "居民姓名（可选）"}, []);
      var rphone = el("input", {id: "ww-form-resident-phone", type: "tel", placeholder: "联系电话（可选）"}, []);
      var status = el("div", {class: "ww-form-status", role: "status"}, []);
      var submit = el("button", {type: "submit", class: "ww-btn", id: "ww-form-submit"}, ["上报"]);
      var form = el("form", {class: "ww-form", id: "ww-form"}, [
        el("div", {class: "ww-card-title"}, ["上报事件"]), el("label", null, ["事件类别"]), cat,
        el("label", null, ["事件描述"]), text, el("label", null, ["地址或地标"]), addr,
        el("label", null, [urgent, " 紧急"]), el("label", null, ["居民联系方式（来电、来访时填写）"]), rname, rphone,
        el("div", {class: "ww-form-row"}, [submit]), status,
      ]);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!cat.value) { status.textContent = "请选择事件类别"; return; }
        if (!text.value.trim()) { status.textContent = "请填写事件描述"; return; }
        submit.disabled = true;
        ww.api("/incidents", {method: "POST", body: {
          lon: Math.round(e.latlng.lng * 1e7) / 1e7, lat: Math.round(e.latlng.lat * 1e7) / 1e7,
          crs: d.crs === "gcj02" ? "gcj02" : "wgs84", category: cat.value, description: text.value.trim(),
          address: addr.value.trim(), urgent: urgent.checked,
          reporter: rname.value.trim() || rphone.value.trim() ?
            {name: rname.value.trim() || null, phone: rphone.value.trim() || null} : undefined,
        }}).then(function (inc) {
          map.closePopup(formPopup);
          upsert(inc);
          handlerOptions();
          window.wwLastCreated = inc;
          ww.msg("事件已上报：" + inc.id + "，" + (inc.assignee ? "已交办 " + handlerText(inc) : "进入研判队列") + "。", "ok");
          select(inc.id, false);
        }).catch(function (err) {
          submit.disabled = false;
          status.textContent = "提交失败：" + err.message;
        });
      });
      formPopup.setLatLng(e.latlng).setContent(form).openOn(map);
    });
  }

  /* ---- notices (badge + list) ---- */
  function loadNotices() {
    return ww.notices(function (n) {
      ww.api("/notices/read", {method: "POST", body: {ids: [n.id]}}).then(loadNotices);
      if (byId[n.incident_id]) select(n.incident_id, true);
    }).catch(function () { /* the badge stays as it was */ });
  }

  /* ---- loading and live updates: poll with ETag (unchanged: 304, nothing sent) ---- */
  var poll = ww.feed(d.community.code, replaceAll);

  window.wwSelect = function (id) { return select(id, true); };
  window.wwQueueItems = function () { return items; };
  window.wwReady = poll().then(loadNotices).then(function () {
    window.wwLoaded = true;
    setInterval(function () { poll().catch(function () { /* next poll retries */ }); }, d.pollMs || 1000);
    setInterval(loadNotices, 15000);
  }).catch(function (err) {
    ww.msg(err.status === 401 ? "请先登录" : "事件加载失败", "error", err.status === 401 ? ww.loginLink() : null);
  });
  return grids;
}
