/* The planner's page: pick micro-grids, split along a two-point line, merge, undo, publish.
 * Every operation is one call to the draft API; the page then reloads, so what it shows is the
 * server's draft. User text reaches the DOM through textContent (ww.el / ww.msg) only.
 */
"use strict";

function wwPlan(map) {
  var d = ww.data();
  var base = "/communities/" + d.community.code;
  var selected = [];
  var cutting = null;
  var grids = ww.drawGrids(map, d, {labels: false});

  function show() {
    document.getElementById("ww-selected").textContent = selected.length ? selected.join("、") : "—";
    Object.keys(grids.byCode).forEach(function (code) {
      var layer = grids.byCode[code];
      if (layer.feature && layer.feature.properties.level === "micro") {
        layer.setStyle({weight: selected.indexOf(code) >= 0 ? 4 : 1, color: selected.indexOf(code) >= 0 ? "#d7191c" : d.style.microLine});
      }
    });
  }

  function fail(err) { ww.msg(err && err.message ? err.message : "操作失败", "error"); }

  function run(path, body) {
    if (!d.draft) { ww.msg("请先新建草稿", "error"); return; }
    ww.api(base + "/drafts/" + d.draft + path, {method: "POST", body: body || {}}).then(function () {
      window.location.reload();
    }, fail);
  }

  grids.micro.eachLayer(function (layer) {
    layer.on("click", function (e) {
      if (cutting) return;
      var code = layer.feature.properties.code;
      var i = selected.indexOf(code);
      if (i >= 0) selected.splice(i, 1); else selected.push(code);
      if (selected.length > 2) selected.shift();
      show();
    });
  });

  map.on("click", function (e) {
    if (!cutting) return;
    cutting.points.push([e.latlng.lng, e.latlng.lat]);
    if (cutting.points.length === 1) {
      cutting.marker = L.circleMarker(e.latlng, {radius: 4, color: "#d7191c"}).addTo(map);
      ww.msg("再点一点，完成分割线", "info");
      return;
    }
    var p = cutting.points, grid = cutting.grid;
    cutting = null;
    var wkt = "LINESTRING (" + p[0][0] + " " + p[0][1] + ", " + p[1][0] + " " + p[1][1] + ")";
    run("/split", {grid: grid, line: wkt, crs: d.crs === "gcj02" ? "gcj02" : null});
  });

  document.getElementById("ww-split").addEventListener("click", function () {
    if (selected.length !== 1) { ww.msg("请先选中一个微网格", "error"); return; }
    cutting = {grid: selected[0], points: []};
    ww.msg("在地图上点两点：分割线须从微网格一侧画到另一侧", "info");
  });
  document.getElementById("ww-merge").addEventListener("click", function () {
    if (selected.length !== 2) { ww.msg("请选中两个相邻的微网格", "error"); return; }
    run("/merge", {grids: selected.slice()});
  });
  document.getElementById("ww-undo").addEventListener("click", function () { run("/undo"); });
  document.getElementById("ww-publish").addEventListener("click", function () {
    if (!d.draft) { ww.msg("没有草稿可发布", "error"); return; }
    ww.api(base + "/versions/" + d.draft + "/publish", {method: "POST"}).then(function (v) {
      ww.msg("已发布第 " + v.number + " 版", "info");
      window.wwPublished = v.number;
    }, fail);
  });
  document.getElementById("ww-new").addEventListener("click", function () {
    ww.api(base + "/drafts/new", {method: "POST", body: {}}).then(function (body) {
      window.location.search = "?version=" + body.draft.number;
    }, fail);
  });

  if (d.draft) {
    ww.api(base + "/drafts/" + d.draft + "/impact").then(function (im) {
      var c = im.counts;
      document.getElementById("ww-impact").textContent =
        "停用微网格 " + im.grids_removed.length + " 个（" + c.households_removed + " 户），新增 " +
        im.grids_added.length + " 个；要素 " + c.elements + " 个、岗位 " + c.posts + " 个、未办结事件 " +
        c.incidents + " 件将改变网格";
      window.wwImpact = im;
    }, function () { document.getElementById("ww-impact").textContent = "—"; });
  }
  show();
  window.wwPlanSelect = function (codes) { selected = codes.slice(); show(); };
  window.wwLoaded = true;
}
