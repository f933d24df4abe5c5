/* weiwang dispatcher page (事件调度): incidents, click-to-report form, filters, 督办 list.
 * Plain ES2017; user text only through textContent (ww.el). Needs common.js. */
"use strict";

function wwDispatch(map) {
  var d = ww.data();
  var st = d.style;
  var el = ww.el;
  var grids = ww.drawGrids(map);
  var group = L.layerGroup().addTo(map);
  var byId = {};          // incident id → {inc, marker}
  var order = [];         // incident ids in load order
  window.wwIncidents = byId;

  function stateColor(s) { return st.states[s] || "#888888"; }
  function catShape(c) { return st.categories[c] || "circle"; }

  function personText(a) {
    if (!a) return "未分派（进入社区研判队列）";
    var phone = a.phone || "";
    if (d.maskPhones && phone.length > 7) phone = phone.slice(0, 3) + "****" + phone.slice(-4);
    return (a.name || a.person_id || "") + "（" + (a.role || "") + (phone ? "，" + phone : "") + "）";
  }

  function gridText(code, name) {
    if (!code) return "—";
    return (name || "") + "（" + code + "）";
  }

  function row(label, value, cls) {
    return el("tr", null, [el("th", null, [label]), el("td", cls ? {class: cls} : null, [value])]);
  }

  function popupContent(inc) {
    var g = inc.grid || {};
    var where = g.on_boundary ? "（位于网格边界上）" : (g.snapped ? "（就近归入，距 " + g.distance_m + " 米）" : "");
    return el("div", {class: "ww-card ww-popup"}, [
      el("div", {class: "ww-card-title"}, [
        el("span", {class: "ww-mk ww-shape-" + catShape(inc.category), style: "background:" + stateColor(inc.state)}, []),
        " " + (inc.category || ""),
        el("span", {class: "ww-badge", style: "background:" + stateColor(inc.state)}, [inc.state || ""]),
      ]),
      el("p", {class: "ww-desc"}, [inc.description || ""]),
      el("table", {class: "ww-kv"}, [
        row("编号", String(inc.id)),
        row("状态", inc.state || "—"),
        row("上报时间", ww.fmtTime(inc.reported_at)),
        row("办理时限", inc.deadline ? ww.fmtTime(inc.deadline) + (inc.overdue ? "（已超期）" : "") : "—",
            inc.overdue ? "ww-overdue" : null),
        row("微网格", gridText(g.micro_code, g.micro_name) + where),
        row("一般网格", gridText(g.general_code, g.general_name)),
        row("社区", gridText(g.community_code, g.community_name)),
        row("处置人", personText(inc.assignee)),
      ]),
    ]);
  }

  function icon(inc) {
    var mk = el("div", {class: "ww-mk ww-shape-" + catShape(inc.category) + (inc.overdue ? " ww-mk-overdue" : ""),
                        style: "background:" + stateColor(inc.state)}, []);
    return L.divIcon({className: "ww-incident", html: mk, iconSize: [16, 16], iconAnchor: [8, 8], popupAnchor: [0, -8]});
  }

  function addIncident(inc) {
    if (inc.lon === null || inc.lon === undefined) return null;
    var key = String(inc.id);
    var old = byId[key];
    if (old) group.removeLayer(old.marker);
    var marker = L.marker(ww.toMap(inc.lon, inc.lat), {icon: icon(inc), title: (inc.category || "") + " " + (inc.state || ""),
                                                     riseOnHover: true});
    marker.bindPopup(function () { return popupContent(byId[key] ? byId[key].inc : inc); }, {maxWidth: 360});
    marker.wwIncident = inc;
    byId[key] = {inc: inc, marker: marker, json: JSON.stringify(inc)};
    if (!old) order.push(key);
    if (visible(inc)) group.addLayer(marker);
    return marker;
  }

  /* A changed incident redrawn in place (its marker, and its popup if open); a new one added. */
  function upsert(inc) {
    var key = String(inc.id);
    var it = byId[key];
    if (!it) return addIncident(inc);
    var json = JSON.stringify(inc);
    if (json === it.json) return it.marker;
    if (inc.lon === null || inc.lon === undefined) { remove(key); return null; }
    it.inc = inc;
    it.json = json;
    it.marker.wwIncident = inc;
    it.marker.setLatLng(ww.toMap(inc.lon, inc.lat));
    it.marker.setIcon(icon(inc));
    if (it.marker.isPopupOpen()) it.marker.getPopup().update();
    return it.marker;
  }

  function remove(key) {
    var it = byId[key];
    if (!it) return;
    group.removeLayer(it.marker);
    delete byId[key];
    order = order.filter(function (k) { return k !== key; });
  }

  /* The feed's answer is the whole list as the caller may see it: add, redraw, drop. */
  function sync(items) {
    var seen = {};
    items.forEach(function (inc) { seen[String(inc.id)] = true; upsert(inc); });
    order.slice().forEach(function (k) { if (!seen[k]) remove(k); });
    applyFilters();
  }

  function checked(cls) {
    var out = {};
    Array.prototype.forEach.call(document.querySelectorAll("input." + cls), function (i) { out[i.value] = i.checked; });
    return out;
  }

  function visible(inc) {
    var s = checked("ww-f-state"), c = checked("ww-f-cat");
    return s[inc.state] !== false && c[inc.category] !== false;
  }

  function applyFilters() {
    var shown = 0;
    order.forEach(function (k) {
      var it = byId[k];
      if (visible(it.inc)) { shown += 1; if (!group.hasLayer(it.marker)) group.addLayer(it.marker); }
      else if (group.hasLayer(it.marker)) group.removeLayer(it.marker);
    });
    document.getElementById("ww-count").textContent = String(shown);
    document.getElementById("ww-total").textContent = String(order.length);
  }
  Array.prototype.forEach.call(document.querySelectorAll("input.ww-f-state, input.ww-f-cat"), function (i) {
    i.addEventListener("change", applyFilters);
  });

  function focusIncident(inc) {
    var it = byId[String(inc.id)];
    var marker = it ? it.marker : addIncident(inc);
    if (!marker) { ww.msg("该事件没有位置信息", "error"); return; }
    if (!group.hasLayer(marker)) group.addLayer(marker);
    map.setView(marker.getLatLng(), Math.max(map.getZoom(), 17), {animate: false});
    marker.openPopup();
  }

  /* ---- loading and live updates: the same ETag feed as the queue page (ww.feed): every open
   * map polls each second and gets 304 while nothing changed; a new or changed incident is drawn
   * without a reload, and the 督办 list is refreshed with it. ---- */
  var poll = d.incidents ? null : ww.feed(d.community.code, sync);
  var loggedOut = false;

  function loadIncidents() {
    if (d.incidents) {
      d.incidents.forEach(addIncident);
      applyFilters();
      window.wwIncidentsLoaded = true;
      return Promise.resolve();
    }
    return poll().then(function () {
      window.wwIncidentsLoaded = true;
    }).catch(function (err) {
      loggedOut = err.status === 401;
      if (!loggedOut) ww.msg("事件加载失败：" + (err.message || ""), "error");
      else ww.msg("请先登录", "error", ww.loginLink());
    });
  }

  function live() {
    if (!poll || loggedOut) return;  // not logged in: no polling (another error: the polls retry)
    setInterval(function () {
      poll().then(function (changed) { if (changed) loadSupervision(); })
            .catch(function () { /* the next poll retries */ });
    }, d.pollMs || 1000);
  }

  function loadSupervision() {
    var list = document.getElementById("ww-supervision");
    if (d.incidents) { list.textContent = ""; list.appendChild(el("li", {class: "ww-muted"}, ["离线快照不含督办清单"])); return Promise.resolve(); }
    return ww.api("/supervision?community=" + encodeURIComponent(d.community.code)).then(function (body) {
      var items = body && body.items ? body.items : [];
      list.textContent = "";
      if (!items.length) { list.appendChild(el("li", {class: "ww-muted"}, ["暂无超期事件"])); return; }
      items.forEach(function (s) {
        var inc = s.incident || {};
        var esc = s.escalate_to || {};
        var li = el("li", {class: "ww-sv", tabindex: "0", "data-id": String(inc.id)}, [
          el("div", null, [el("b", null, [inc.category || ""]), " · 超期 " + s.overdue_hours + " 小时"]),
          el("div", {class: "ww-desc"}, [inc.description || ""]),
          el("div", {class: "ww-muted"}, ["处置人：" + personText(inc.assignee)]),
          el("div", {class: "ww-muted"}, ["督办：" + (esc.role || "") + " " + (esc.name || esc.person_id || "")]),
        ]);
        li.addEventListener("click", function () { focusIncident(inc); });
        li.addEventListener("keydown", function (e) { if (e.key === "Enter") focusIncident(inc); });
        list.appendChild(li);
      });
    }).catch(function (err) {
      list.textContent = "";
      list.appendChild(el("li", {class: "ww-muted"}, [err.status === 401 ? "请先登录" : "督办清单加载失败：" + err.message]));
    });
  }

  /* ---- click → form → POST ---- */
  var formPopup = L.popup({maxWidth: 320, minWidth: 260, className: "ww-form-popup"});

  function reportForm(latlng) {
    var select = el("select", {name: "category", id: "ww-form-category", required: true},
      [el("option", {value: "", selected: true, disabled: true}, ["请选择"])].concat(
        d.categories.map(function (c) { return el("option", {value: c}, [c]); })));
    var text = el("textarea", {name: "description", id: "ww-form-description", rows: "3", maxlength: "2000",
                               required: true, placeholder: "请描述事件情况"}, []);
    var status = el("div", {class: "ww-form-status", role: "status"}, []);
    var submit = el("button", {type: "submit", class: "ww-btn", id: "ww-form-submit"}, ["上报"]);
    var cancel = el("button", {type: "button", class: "ww-btn ww-btn-2"}, ["取消"]);
    var form = el("form", {class: "ww-form", id: "ww-form"}, [
      el("div", {class: "ww-card-title"}, ["上报事件"]),
      el("label", {for: "ww-form-category"}, ["事件类别"]), select,
      el("label", {for: "ww-form-description"}, ["事件描述"]), text,
      el("div", {class: "ww-form-row"}, [submit, cancel]), status,
    ]);
    cancel.addEventListener("click", function () { map.closePopup(formPopup); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var description = text.value.trim();
      if (!description) { status.textContent = "请填写事件描述"; return; }
      submit.disabled = true;
      status.textContent = "正在提交…";
      var body = {
        lon: Math.round(latlng.lng * 1e7) / 1e7,
        lat: Math.round(latlng.lat * 1e7) / 1e7,
        crs: d.crs === "gcj02" ? "gcj02" : "wgs84",
        category: select.value,
        description: description,
      };
      ww.api("/incidents", {method: "POST", body: body}).then(function (inc) {
        map.closePopup(formPopup);
        window.wwLastCreated = inc;
        var marker = addIncident(inc);
        applyFilters();
        var g = inc.grid || {};
        var who = inc.assignee ? inc.assignee.name + "（" + inc.assignee.role + "）" : "社区研判队列";
        ww.msg("事件已上报：位于" + (g.micro_name ? g.micro_name + "（" + g.micro_code + "）" : "网格外") +
               "，已交办" + who + "。", "ok");
        if (marker) {
          if (!group.hasLayer(marker)) group.addLayer(marker);
          marker.openPopup();
        }
      }).catch(function (err) {
        submit.disabled = false;
        status.textContent = err.status === 401 ? "请先登录" : "提交失败：" + err.message;
        if (err.status === 401) {
          var link = ww.loginLink();
          status.appendChild(document.createTextNode(" "));
          status.appendChild(el("a", {href: link.href}, [link.text]));
        }
      });
    });
    return form;
  }

  if (d.canReport !== false) {
    map.on("click", function (e) {
      formPopup.setLatLng(e.latlng).setContent(reportForm(e.latlng)).openOn(map);
      var t = document.getElementById("ww-form-description");
      if (t) t.focus();
    });
  }

  window.wwFocusIncident = focusIncident;
  window.wwReady = Promise.all([loadIncidents(), loadSupervision()]).then(function () {
    window.wwLoadedMs = window.performance ? performance.now() : 0;
    window.wwLoaded = true;
    live();
  });
  return grids;
}
