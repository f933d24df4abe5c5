/* The planner's page (规划编辑): pick micro-grids; split one along a line drawn with leaflet-geoman,
 * merge two, or drag the boundary two neighbours share (geoman's vertex editing) and apply it as
 * move-boundary; undo; see the findings, the balance table, the party coverage and the impact of
 * publishing; publish (with an override and its reason when blocking findings remain).
 *
 * Each operation is one call to the draft API; the page then fetches the draft's state
 * (GET …/drafts/{n}/plan) and redraws in place, then the impact of publishing it
 * (GET …/drafts/{n}/impact), so what it shows is always the server's draft. window.wwLastOpMs:
 * milliseconds from the click that sent the last operation to the map, findings, balance table and
 * party coverage redrawn (also the performance measure "ww-op"); window.wwImpactTimes: to the
 * impact shown as well.
 * User text reaches the DOM through textContent (ww.el / ww.msg) only.
 */
"use strict";

function wwPlan(map) {
  var d = ww.data();
  var el = ww.el;
  var base = "/communities/" + d.community.code;
  var sendCrs = d.crs === "gcj02" ? "gcj02" : null;
  var state = d.state;
  var selected = [];
  var mode = null;       // null | "split" | "boundary"
  var edited = null;     // the boundary polyline being dragged
  var layers = null;
  var opStarted = null;
  var fresh = [];        // grids the last operation made (outlined on the map)
  window.wwOpTimes = [];
  window.wwOpPhases = [];
  window.wwImpactTimes = [];  // per operation: ms of the operation call, of fetching state + impact, of drawing

  if (map.pm) {
    map.pm.setLang("zh");
    map.pm.setGlobalOptions({snappable: true, snapDistance: 12, allowSelfIntersection: false});
  }

  function $(id) { return document.getElementById(id); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function fail(err) {
    ww.msg(err && err.message ? err.message : "操作失败", "error");
    busy(false);
  }
  function busy(on) {
    Array.prototype.forEach.call(document.querySelectorAll("#ww-tools button, #ww-publish"), function (b) {
      b.disabled = !!on || !d.draft || !!window.wwPublished;
    });
  }

  /* --- the map ----------------------------------------------------------------------------- */

  function card(p) {
    return el("div", {class: "ww-card"}, [
      el("div", {class: "ww-card-title"}, [p.name || "（未命名）"]),
      el("div", {class: "ww-mono"}, [p.code]),
      el("div", {class: "ww-muted"}, ["户数：" + (p.households === null || p.households === undefined ? "未知" : p.households)]),
    ]);
  }

  function draw(fc) {
    if (layers) ["micro", "general", "community"].forEach(function (k) { map.removeLayer(layers[k]); });
    var st = d.style, feats = fc.features;
    function of(level) {
      return {type: "FeatureCollection", features: feats.filter(function (f) { return f.properties.level === level; })};
    }
    var out = {byCode: {}};
    out.micro = L.geoJSON(of("micro"), {
      pmIgnore: true,
      style: function (f) {
        return {className: "ww-micro", color: st.microLine, weight: 1, opacity: 0.9,
                fillColor: f.properties.color, fillOpacity: st.generalFillOpacity};
      },
      onEachFeature: function (f, layer) {
        out.byCode[f.properties.code] = layer;
        layer.bindTooltip(function () { return card(f.properties); },
                          {sticky: true, direction: "top", className: "ww-tip"});
        layer.on("click", function () { pick(f.properties.code); });
      },
    }).addTo(map);
    out.general = L.geoJSON(of("general"), {
      pmIgnore: true, interactive: false,
      style: function () { return {className: "ww-general", color: st.generalLine, weight: 3, fill: false, interactive: false}; },
      onEachFeature: function (f, layer) { out.byCode[f.properties.code] = layer; },
    }).addTo(map);
    out.community = L.geoJSON(of("community"), {
      pmIgnore: true, interactive: false,
      style: function () { return {className: "ww-community", color: st.community, weight: 4, dashArray: "8 4", fill: false, interactive: false}; },
    }).addTo(map);
    if (!layers) {
      var b = out.community.getBounds();
      if (!b.isValid()) b = out.micro.getBounds();
      if (b.isValid()) map.fitBounds(b, {padding: [10, 10], animate: false});
      L.control.scale({imperial: false}).addTo(map);
    }
    layers = out;
    selected = selected.filter(function (c) { return !!out.byCode[c]; });
    window.wwMap = map;
    window.wwGrids = out;
    show();
  }

  function show() {
    $("ww-selected").textContent = selected.length ? selected.join("、") : "—";
    layers.micro.eachLayer(function (layer) {
      var code = layer.feature.properties.code;
      var on = selected.indexOf(code) >= 0, isNew = fresh.indexOf(code) >= 0;
      layer.setStyle({weight: on || isNew ? 4 : 1, color: on ? "#d7191c" : isNew ? "#7b1fa2" : d.style.microLine,
                      dashArray: isNew && !on ? "6 3" : null});
      if (on || isNew) layer.bringToFront();
    });
  }

  function pick(code) {
    if (mode) return;
    var i = selected.indexOf(code);
    if (i >= 0) selected.splice(i, 1); else selected.push(code);
    if (selected.length > 2) selected.shift();
    show();
  }

  /* --- the panels -------------------------------------------------------------------------- */

  function renderFindings(s) {
    $("ww-summary").textContent = s.total ? "错误 " + s.errors + " 项，警告 " + s.warnings + " 项" +
      (s.total > s.findings.length ? "（列出前 " + s.findings.length + " 项）" : "") : "未发现问题";
    var list = clear($("ww-findings"));
    s.findings.forEach(function (f) {
      list.appendChild(el("li", {class: "ww-finding ww-sev-" + f.severity, "data-code": f.code}, [
        el("span", {class: "ww-badge"}, [f.severity === "error" ? "错误" : "警告"]), " ",
        f.message_zh || f.code,
      ]));
    });
    $("ww-override").hidden = !(s.errors > 0);
  }

  function renderBalance(b) {
    var c = b.counts;
    $("ww-balance-summary").textContent = b.in_band + " / " + b.micro_grids + " 个微网格在 " + b.band[0] + "–" +
      b.band[1] + " 户之间；低于 " + c.below + " 个，高于 " + c.above + " 个" + (c.unknown ? "，户数未知 " + c.unknown + " 个" : "");
    var body = clear($("ww-balance-rows"));
    var label = {below: "偏少", above: "偏多", ok: "正常", unknown: "未知"};
    b.rows.forEach(function (r) {
      body.appendChild(el("tr", {"data-grid": r.code, class: "ww-bal-" + r.status}, [
        el("td", {class: "ww-mono"}, [r.code]), el("td", null, [r.name || ""]),
        el("td", {class: "ww-num"}, [r.households === null ? "—" : String(r.households)]),
        el("td", null, [label[r.status] || r.status]),
      ]));
    });
  }

  function renderParty(p) {
    $("ww-party-summary").textContent = p.groups.length + " 个党小组覆盖 " +
      (p.micro_grids - p.uncovered.length) + " / " + p.micro_grids + " 个微网格；无党小组 " + p.uncovered.length +
      " 个，多个党小组 " + p.overlap.length + " 个";
    var body = clear($("ww-party-rows"));
    p.groups.forEach(function (g) {
      body.appendChild(el("tr", {"data-org": g.code}, [
        el("td", null, [g.name || g.code]), el("td", {class: "ww-num"}, [String(g.micro.length)]),
      ]));
    });
    if (p.uncovered.length) body.appendChild(el("tr", {class: "ww-bal-below"}, [el("td", null, ["无党小组"]), el("td", {class: "ww-mono"}, [p.uncovered.join("、")])]));
    if (p.overlap.length) body.appendChild(el("tr", {class: "ww-bal-above"}, [el("td", null, ["多个党小组"]), el("td", {class: "ww-mono"}, [p.overlap.join("、")])]));
  }

  function renderOps(ops) {
    var list = clear($("ww-ops"));
    ops.forEach(function (o) {
      list.appendChild(el("li", null, [(o.summary_zh || o.operation || "") + (o.undone_at ? "（已撤销）" : "")]));
    });
  }

  function renderImpact(im) {
    var c = im.counts;
    $("ww-impact").textContent = "停用微网格 " + im.grids_removed.length + " 个（" + c.households_removed + " 户），新增 " +
      im.grids_added.length + " 个（" + c.households_added + " 户）；要素 " + c.elements + " 个、岗位 " + c.posts +
      " 个、未办结事件 " + c.incidents + " 件将改变网格或处理人" + (c.elements_lost ? "；丢失要素 " + c.elements_lost + " 个" : "");
    var box = clear($("ww-impact-lists"));
    function part(title, items, line) {
      if (!items.length) return;
      var ul = el("ul", null, items.slice(0, 100).map(function (x) { return el("li", null, [line(x)]); }));
      box.appendChild(el("details", {class: "ww-impact-" + title[1], open: items.length <= 5}, [el("summary", null, [title[0] + "（" + items.length + "）"]), ul]));
    }
    part(["要素", "elements"], im.elements, function (e) { return (e.name || e.id) + "：" + (e.from || "—") + " → " + (e.to || "—"); });
    part(["岗位", "posts"], im.posts, function (p) { return p.name + "（" + p.role + "）：" + p.grid_code + " 将停用"; });
    part(["未办结事件", "incidents"], im.incidents, function (i) { return i.id + "（" + i.state + "）：" + (i.from || "—") + " → " + (i.to || "研判队列"); });
    window.wwImpact = im;
  }

  function render(s) {
    state = s;
    draw(s.grids);
    renderFindings(s);
    renderBalance(s.balance);
    renderParty(s.party);
    renderOps(s.operations || []);
    window.wwState = s;
  }

  /* After an operation (or on load): the draft's state first — map, findings, balance table, party
   * coverage (window.wwOpTimes: ms from the click to these redrawn) — then the impact of publishing
   * it, which needs the draft's locator built (window.wwImpactTimes: ms from the click to it shown). */
  function refresh(stateToo) {
    if (!d.draft) return Promise.resolve();
    var t0 = performance.now(), started = opStarted;
    opStarted = null;
    var first = stateToo === false ? Promise.resolve(null) : ww.api(base + "/drafts/" + d.draft + "/plan");
    return first.then(function (got) {
      if (got === null) return ww.api(base + "/drafts/" + d.draft + "/impact");
      var t1 = performance.now();
      render(got);
      if (started !== null) {
        var ms = performance.now() - started;
        window.wwOpPhases.push({operation: Math.round(t0 - started), fetch: Math.round(t1 - t0),
                                render: Math.round(performance.now() - t1)});
        window.wwLastOpMs = ms;
        window.wwOpTimes.push(ms);
        if (performance.measure) { try { performance.measure("ww-op", "ww-op-start"); } catch (e) { /* no mark */ } }
      }
      $("ww-impact").textContent = "正在计算发布影响…";
      return ww.api(base + "/drafts/" + d.draft + "/impact");
    }).then(function (im) {
      renderImpact(im);
      if (started !== null) window.wwImpactTimes.push(performance.now() - started);
      busy(false);
    });
  }

  /* --- operations -------------------------------------------------------------------------- */

  function run(path, body, done) {
    if (!d.draft) { ww.msg("请先新建草稿", "error"); return; }
    opStarted = performance.now();
    if (performance.mark) performance.mark("ww-op-start");
    busy(true);
    ww.msg("正在处理…", "info");
    ww.api(base + "/drafts/" + d.draft + path, {method: "POST", body: body || {}}).then(function (r) {
      var op = r.operation || r.undone || {};
      fresh = r.undone ? (op.removed || []) : (op.added || []);
      return refresh().then(function () {
        ww.msg((r.undone ? "已撤销：" : "已完成：") + (op.summary_zh || path.slice(1)), "info");
        if (done) done(r);
      });
    }).catch(function (err) { opStarted = null; fail(err); });
  }

  function wkt(latlngs) {
    return "LINESTRING (" + latlngs.map(function (p) { return p.lng + " " + p.lat; }).join(", ") + ")";
  }

  /* Lengthen both ends of a boundary by ~1.5 m so that, after rounding, the line still crosses the
   * two grids' outline from side to side. */
  function extended(latlngs) {
    var pts = latlngs.map(function (p) { return L.latLng(p.lat, p.lng); });
    function push(i, j) {
      var a = pts[i], b = pts[j], k = Math.cos(a.lat * Math.PI / 180);
      var dx = (a.lng - b.lng) * k, dy = a.lat - b.lat, n = Math.sqrt(dx * dx + dy * dy);
      if (!n) return;
      var step = 1.5 / 111320;
      pts[i] = L.latLng(a.lat + dy / n * step, a.lng + dx / n * step / k);
    }
    push(0, 1);
    push(pts.length - 1, pts.length - 2);
    return pts;
  }

  function endMode() {
    mode = null;
    if (map.pm && map.pm.globalDrawModeEnabled()) map.pm.disableDraw();
    if (edited) { map.removeLayer(edited); edited = null; }
    $("ww-boundary-tools").hidden = true;
  }

  map.on("pm:create", function (e) {
    var latlngs = e.layer.getLatLngs();
    map.removeLayer(e.layer);
    if (mode !== "split") return;
    var grid = selected[0];
    endMode();
    run("/split", {grid: grid, line: wkt(latlngs), crs: sendCrs});
  });

  $("ww-split").addEventListener("click", function () {
    if (selected.length !== 1) { ww.msg("请先选中一个微网格", "error"); return; }
    endMode();
    mode = "split";
    map.pm.enableDraw("Line", {snappable: true, finishOn: null});
    ww.msg("在地图上依次点击画分割线，须从微网格一侧画到另一侧；再点一次最后一点结束（Esc 取消）", "info");
  });

  $("ww-merge").addEventListener("click", function () {
    if (selected.length !== 2) { ww.msg("请选中两个相邻的微网格", "error"); return; }
    endMode();
    run("/merge", {grids: selected.slice()});
  });

  $("ww-boundary").addEventListener("click", function () {
    if (selected.length !== 2) { ww.msg("请选中两个相邻的微网格", "error"); return; }
    endMode();
    var pair = selected.slice();
    ww.api(base + "/drafts/" + d.draft + "/shared-boundary?grids=" + encodeURIComponent(pair.join(","))).then(function (r) {
      var latlngs = r.line.coordinates.map(function (c) { return ww.toMap(c[0], c[1]); });
      mode = "boundary";
      edited = L.polyline(latlngs, {color: "#7b1fa2", weight: 4, className: "ww-boundary-edit"}).addTo(map);
      edited.wwGrids = pair;
      edited.pm.enable({snappable: false, allowSelfIntersection: false, preventMarkerRemoval: false});
      $("ww-boundary-tools").hidden = false;
      window.wwBoundary = edited;
      ww.msg("拖动紫色共用边界的节点（或节点间的小点新增节点），然后点“应用新边界”；长 " + r.length_m + " 米", "info");
    }, fail);
  });

  $("ww-boundary-apply").addEventListener("click", function () {
    if (mode !== "boundary" || !edited) return;
    var pair = edited.wwGrids, latlngs = extended(edited.getLatLngs());
    endMode();
    run("/move-boundary", {grids: pair, line: wkt(latlngs), crs: sendCrs});
  });
  $("ww-boundary-cancel").addEventListener("click", function () { endMode(); ww.msg("已取消", "info"); });
  $("ww-undo").addEventListener("click", function () { endMode(); run("/undo"); });

  $("ww-publish").addEventListener("click", function () {
    if (!d.draft) { ww.msg("没有草稿可发布", "error"); return; }
    var override = $("ww-override-on").checked;
    var reason = $("ww-override-reason").value;
    if (state && state.errors > 0 && !override) {
      ww.msg("草稿还有 " + state.errors + " 项错误：请先修正，或勾选强制发布并填写理由", "error");
      return;
    }
    busy(true);
    ww.api(base + "/drafts/" + d.draft + "/publish", {method: "POST", body: {override: override, reason: reason}}).then(function (r) {
      window.wwPublished = r.version.number;
      busy(true);
      window.wwRerouted = r.rerouted;
      ww.msg("已发布第 " + r.version.number + " 版（生效于 " + ww.fmtTime(r.version.valid_from) + "）；" +
             "按新网格重新路由未办结事件 " + r.rerouted.length + " 件" +
             (r.version.override ? "；强制发布理由已记录" : ""), "info",
             {href: "/maps/plan/" + encodeURIComponent(d.community.code) + "/diff?to=" + r.version.number +
                    (d.published ? "&from=" + d.published : ""), text: "查看版本对比"});
    }, fail);
  });

  $("ww-new").addEventListener("click", function () {
    ww.api(base + "/drafts/new", {method: "POST", body: {}}).then(function (body) {
      window.location.search = "?version=" + body.draft.number;
    }, fail);
  });

  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && mode) { endMode(); ww.msg("已取消", "info"); } });

  render(state);
  busy(false);
  window.wwPlanSelect = function (codes) { selected = codes.slice(); show(); };
  if (d.draft) {
    refresh(false).then(function () { window.wwLoaded = true; }, function (err) { fail(err); window.wwLoaded = true; });
  } else {
    window.wwLoaded = true;
  }
}
