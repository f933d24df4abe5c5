/* The before/after map (版本对比): the earlier version's micro-grids as dashed outlines, the later
 * version's filled by change (新增 green, 变更 orange, 未变 grey), grids removed filled red from the
 * earlier version. Rows of the list zoom to their grid. Plain ES2017; user text via textContent. */
"use strict";

function wwPlanDiff(map) {
  var d = ww.data();
  var colors = d.colors, changes = d.changes;
  var byCode = {};

  function card(p, kind, which) {
    return ww.el("div", {class: "ww-card"}, [
      ww.el("div", {class: "ww-card-title"}, [p.code]),
      ww.el("div", null, [p.name || ""]),
      ww.el("div", {class: "ww-muted"}, [which + " · " + ({added: "新增", removed: "删除", changed: "变更"}[kind] || "未变") +
        (p.households !== null && p.households !== undefined ? " · " + p.households + " 户" : "")]),
    ]);
  }

  function micro(fc) {
    return {type: "FeatureCollection", features: fc.features.filter(function (f) { return f.properties.level === "micro"; })};
  }

  var after = L.geoJSON(micro(d.grids), {
    style: function (f) {
      var kind = changes[f.properties.code] || "same";
      return {className: "ww-diff-after ww-diff-" + kind, color: kind === "same" ? "#757575" : colors[kind],
              weight: kind === "same" ? 1 : 2, fillColor: colors[kind], fillOpacity: kind === "same" ? 0.25 : 0.55};
    },
    onEachFeature: function (f, layer) {
      var kind = changes[f.properties.code] || "same";
      byCode[f.properties.code] = layer;
      layer.bindTooltip(function () { return card(f.properties, kind, d.labels.after); }, {sticky: true, className: "ww-tip"});
    },
  }).addTo(map);
  var removed = L.geoJSON({type: "FeatureCollection", features: micro(d.before).features.filter(function (f) {
    return changes[f.properties.code] === "removed";
  })}, {
    style: function () {
      return {className: "ww-diff-removed", color: colors.removed, weight: 3, dashArray: "2 4",
              fillColor: colors.removed, fillOpacity: 0.12};
    },
    onEachFeature: function (f, layer) {
      byCode[f.properties.code] = layer;
      layer.bindTooltip(function () { return card(f.properties, "removed", d.labels.before); }, {sticky: true, className: "ww-tip"});
    },
  }).addTo(map);
  var before = L.geoJSON(micro(d.before), {
    interactive: false,
    style: function () {
      return {className: "ww-diff-before", color: "#333333", weight: 2, dashArray: "5 4", fill: false, interactive: false};
    },
  }).addTo(map);

  var bounds = after.getBounds().extend(before.getBounds());
  if (bounds.isValid()) map.fitBounds(bounds, {padding: [10, 10], animate: false});
  L.control.scale({imperial: false}).addTo(map);

  function toggle(id, layers) {
    document.getElementById(id).addEventListener("change", function (e) {
      layers.forEach(function (l) { if (e.target.checked) l.addTo(map); else map.removeLayer(l); });
    });
  }
  toggle("ww-show-before", [before, removed]);
  toggle("ww-show-after", [after]);

  Array.prototype.forEach.call(document.querySelectorAll("#ww-changes tr[data-grid]"), function (tr) {
    function go() {
      var layer = byCode[tr.getAttribute("data-grid")];
      if (!layer) { ww.msg("该网格不是微网格，地图上只画微网格", "info"); return; }
      ww.zoomTo(map, layer);
      layer.openTooltip(layer.getBounds().getCenter());
    }
    tr.addEventListener("click", go);
    tr.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
  });
  window.wwMap = map;
  window.wwDiff = {byCode: byCode, after: after, before: before, removed: removed};
  window.wwLoaded = true;
}
