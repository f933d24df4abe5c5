/* weiwang leaders' dashboard (考核看板): every figure from GET /stats — per general grid, micro-grid
 * and handler, a choropleth of one indicator per micro-grid, a weekly trend.
 * Plain ES2017; user text only through textContent (ww.el). Needs common.js. */
"use strict";

function wwStats(map) {
  var d = ww.data();
  var el = ww.el;
  document.body.classList.add("ww-queue-page");
  var grids = ww.drawGrids(map, {labels: false});
  var byGroup = {general: [], micro: [], handler: []};
  var RAMP = ["#f7fcf5", "#c7e9c0", "#74c476", "#31a354", "#006d2c"];   // higher is better
  var RAMP_BAD = ["#fff5f0", "#fcbba1", "#fb6a4a", "#de2d26", "#a50f15"]; // higher is worse
  var NONE = "#dddddd";

  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function hrs(v) { return v === null || v === undefined ? "—" : v.toFixed(1) + " 小时"; }
  function name(group, key) {
    if (key === null || key === undefined) return group === "handler" ? "研判队列（未交办）" : "网格外";
    if (group === "handler") return d.people[key] || key;
    return d.names[key] || key;
  }
  function period() {
    return {from: document.getElementById("ww-s-from").value, to: document.getElementById("ww-s-to").value};
  }
  function query(group, from, to) {
    return "/stats?community=" + encodeURIComponent(d.community.code) + "&group_by=" + group +
      "&from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
  }

  function fillTable(group, rows) {
    var tbody = document.querySelector("#ww-s-" + group + " tbody");
    tbody.textContent = "";
    if (!rows.length) { tbody.appendChild(el("tr", null, [el("td", {colspan: "7", class: "ww-muted"}, ["暂无数据"])])); return; }
    rows.forEach(function (r) {
      var tr = el("tr", {"data-key": r.key === null ? "" : String(r.key), tabindex: "0"}, [
        el("td", null, [name(group, r.key)]),
        el("td", {class: "ww-num"}, [String(r.due)]),
        el("td", {class: "ww-num" + (r.meets_close_rate === false ? " ww-overdue" : "")}, [pct(r.close_rate)]),
        el("td", {class: "ww-num" + (r.meets_on_time_rate === false ? " ww-overdue" : "")}, [pct(r.on_time_rate)]),
        el("td", {class: "ww-num ww-s-rework"}, [String(r.rework)]),
        el("td", {class: "ww-num"}, [hrs(r.median_handling_hours)]),
        el("td", {class: "ww-num ww-s-supervised"}, [String(r.supervised)]),
      ]);
      if (group !== "handler" && r.key && grids.byCode[r.key]) {
        tr.addEventListener("click", function () { ww.zoomTo(map, grids.byCode[r.key]); });
      }
      tbody.appendChild(tr);
    });
  }

  /* Choropleth: five equal classes between the smallest and largest value (rates: 0–100 %). */
  function paint() {
    var key = document.getElementById("ww-s-theme").value;
    var rates = key === "close_rate" || key === "on_time_rate";
    var ramp = rates ? RAMP : RAMP_BAD;
    var values = {};
    byGroup.micro.forEach(function (r) { if (r.key) values[r.key] = r[key]; });
    var nums = Object.keys(values).map(function (k) { return values[k]; }).filter(function (v) { return v !== null && v !== undefined; });
    var lo = rates ? 0 : 0, hi = rates ? 1 : Math.max.apply(null, nums.concat([1]));
    function cls(v) { return Math.min(4, Math.floor((v - lo) / ((hi - lo) || 1) * 5)); }
    grids.micro.eachLayer(function (layer) {
      var v = values[layer.feature.properties.code];
      var has = v !== null && v !== undefined;
      layer.setStyle({fillColor: has ? ramp[cls(v)] : NONE, fillOpacity: has ? 0.75 : 0.3});
      layer.feature.properties.wwValue = has ? v : null;
    });
    var legend = document.getElementById("ww-s-legend");
    legend.textContent = "";
    for (var i = 0; i < 5; i++) {
      var a = lo + (hi - lo) * i / 5, b = lo + (hi - lo) * (i + 1) / 5;
      var text = rates ? pct(a) + " – " + pct(b) : a.toFixed(1) + " – " + b.toFixed(1);
      legend.appendChild(el("li", null, [el("span", {class: "ww-swatch", style: "background:" + ramp[i]}, []), text]));
    }
    legend.appendChild(el("li", null, [el("span", {class: "ww-swatch", style: "background:" + NONE}, []), "无数据（无应结案件）"]));
  }

  /* Weekly trend over the period: one /stats call per week, bars of 结案率 and 按期结案率, 返工 count. */
  function trend(from, to) {
    var box = document.getElementById("ww-s-trend");
    box.textContent = "加载中…";
    var weeks = [];
    var t = new Date(from + "T00:00:00Z"), end = new Date(to + "T00:00:00Z");
    while (t < end && weeks.length < 26) {
      var next = new Date(Math.min(t.getTime() + 7 * 864e5, end.getTime()));
      weeks.push([t.toISOString().slice(0, 10), next.toISOString().slice(0, 10)]);
      t = next;
    }
    return Promise.all(weeks.map(function (w) { return ww.api(query("community", w[0], w[1])); })).then(function (res) {
      box.textContent = "";
      res.forEach(function (body, i) {
        var r = (body.items || []).filter(function (x) { return x.key === d.community.code; })[0] || {};
        box.appendChild(el("div", {class: "ww-s-week", "data-from": weeks[i][0]}, [
          el("span", {class: "ww-s-wlabel"}, [weeks[i][0].slice(5)]),
          el("span", {class: "ww-s-bar"}, [el("span", {class: "ww-s-fill", style: "width:" + ((r.close_rate || 0) * 100) + "%"}, [])]),
          el("span", {class: "ww-s-bar ww-s-bar2"}, [el("span", {class: "ww-s-fill", style: "width:" + ((r.on_time_rate || 0) * 100) + "%"}, [])]),
          el("span", {class: "ww-s-wtext"}, [pct(r.close_rate) + " / " + pct(r.on_time_rate) + " · 返工 " + (r.rework || 0) + " · 督办 " + (r.supervised || 0)]),
        ]));
      });
      box.insertBefore(el("div", {class: "ww-muted"}, ["周起始日 · 结案率（绿）/ 按期结案率（蓝）"]), box.firstChild);
    });
  }

  function load() {
    var p = period();
    if (!p.from || !p.to || p.from >= p.to) { ww.msg("请选择有效的统计期（开始早于结束）", "error"); return Promise.resolve(); }
    ww.msg("", null);
    var groups = ["general", "micro", "handler"];
    return Promise.all(groups.map(function (g) { return ww.api(query(g, p.from, p.to)); }).concat([ww.api(query("community", p.from, p.to))]))
      .then(function (res) {
        groups.forEach(function (g, i) { byGroup[g] = res[i].items || []; fillTable(g, byGroup[g]); });
        var c = (res[3].items || []).filter(function (x) { return x.key === d.community.code; })[0];
        var total = document.getElementById("ww-s-total");
        total.textContent = c ? "应结案 " + c.due + " 件，结案率 " + pct(c.close_rate) + "，按期结案率 " + pct(c.on_time_rate) +
          "，返工 " + c.rework + " 次，督办 " + c.supervised + " 次，办理时长中位数 " + hrs(c.median_handling_hours) +
          "；未结 " + c.open + " 件，超期 " + c.overdue + " 件。" : "统计期内暂无事件。";
        window.wwStatsRows = {general: byGroup.general, micro: byGroup.micro, handler: byGroup.handler, community: c || null};
        paint();
        return trend(p.from, p.to);
      }).catch(function (err) { ww.msg("统计加载失败：" + err.message, "error"); });
  }

  document.getElementById("ww-s-apply").addEventListener("click", load);
  document.getElementById("ww-s-theme").addEventListener("change", paint);
  window.wwReady = load().then(function () { window.wwLoaded = true; });
  return grids;
}
