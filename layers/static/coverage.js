/* weiwang coverage page (覆盖核查): validation findings drawn, one legend entry per kind, the list
 * beside the map (click → zoom); on a tiled page a kind with many findings is listed as codes. Plain ES2017; user text only through textContent. Needs common.js. */
"use strict";

function wwCoverage(map) {
  var d = ww.data();
  var el = ww.el;
  var grids = ww.drawGrids(map);
  var byIndex = {};
  var byKind = {};

  function card(p) {
    return el("div", {class: "ww-card"}, [
      el("div", {class: "ww-card-title"}, [p.title]),
      el("div", null, [p.message]),
      p.area !== null && p.area !== undefined ? el("div", {class: "ww-muted"}, ["面积：" + p.area + " 平方米"]) : null,
      el("div", {class: "ww-muted ww-mono"}, [(p.grids || []).concat(p.elements || []).join("、")]),
    ]);
  }

  L.geoJSON(d.findings, {
    style: function (f) {
      var p = f.properties;
      var area = p.kind === "gap" || p.kind === "overlap" || p.kind === "not_inside_parent";
      return {className: "ww-finding-shape ww-kind-" + p.kind, color: p.color, weight: area ? 2 : 3,
              dashArray: area ? null : "6 4", fillColor: p.color, fillOpacity: area ? 0.6 : 0.25};
    },
    pointToLayer: function (f, ll) {
      return L.circleMarker(ll, {radius: 7});
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      byIndex[p.i] = layer;
      (byKind[p.kind] = byKind[p.kind] || []).push(layer);
      layer.bindTooltip(function () { return card(p); }, {sticky: true, className: "ww-tip"});
      layer.on("click", function () { select(p.i); });
    },
  }).eachLayer(function (layer) { layer.addTo(map); });

  function select(i) {
    Array.prototype.forEach.call(document.querySelectorAll("#ww-findings li.ww-active"), function (li) {
      li.classList.remove("ww-active");
    });
    var li = document.querySelector('#ww-findings li[data-i="' + i + '"]');
    if (li) { li.classList.add("ww-active"); li.scrollIntoView({block: "nearest"}); }
  }

  Array.prototype.forEach.call(document.querySelectorAll("#ww-findings li.ww-finding"), function (li) {
    var i = li.getAttribute("data-i");
    function go() {
      select(i);
      var layer = byIndex[i];
      if (!layer) { ww.msg("该问题没有可显示的位置", "info"); return; }
      if (!map.hasLayer(layer)) layer.addTo(map);
      ww.zoomTo(map, layer);
      layer.openTooltip(layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng());
    }
    li.addEventListener("click", go);
    li.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
  });

  // A tiled page lists a kind with many findings as codes only (no geometry embedded): a click
  // zooms to the code's box (data-bbox "west,south,east,north") and, on the published version,
  // shows the grid's card (code and people in post) as a click on the map would.
  Array.prototype.forEach.call(document.querySelectorAll("#ww-findings li.ww-finding-code"), function (li) {
    function go() {
      Array.prototype.forEach.call(document.querySelectorAll("#ww-findings li.ww-active"), function (x) {
        x.classList.remove("ww-active");
      });
      li.classList.add("ww-active");
      var b = (li.getAttribute("data-bbox") || "").split(",").map(Number);
      if (b.length !== 4 || b.some(isNaN)) { ww.msg("该问题没有可显示的位置", "info"); return; }
      var bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
      map.fitBounds(bounds, {maxZoom: 18, padding: [30, 30], animate: false});
      var code = li.getAttribute("data-code");
      if (code && d.tiles && !d.tiles.version && window.wwTiles) wwTiles.showGrid(map, d, code, bounds.getCenter());
    }
    li.addEventListener("click", go);
    li.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
  });

  Array.prototype.forEach.call(document.querySelectorAll("input.ww-f-kind"), function (box) {
    box.addEventListener("change", function () {
      (byKind[box.value] || []).forEach(function (layer) {
        if (box.checked) layer.addTo(map); else map.removeLayer(layer);
      });
    });
  });
  // 两网融合: party organisations' areas as their own layer, one toggle per type in the legend.
  var partyByType = {};
  var partyLayer = L.layerGroup().addTo(map);
  L.geoJSON(d.party || {type: "FeatureCollection", features: []}, {
    interactive: true,
    style: function (f) {
      var p = f.properties;
      return {className: "ww-party ww-party-" + p.kind, color: p.color, weight: p.weight,
              dashArray: p.dash, fill: false, opacity: 0.95};
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      (partyByType[p.type] = partyByType[p.type] || []).push(layer);
      layer.bindTooltip(function () {
        return el("div", {class: "ww-card"}, [
          el("div", {class: "ww-card-title"}, [p.name]),
          el("div", null, [p.type + " · " + p.grids + " 个网格"]),
          el("div", {class: "ww-muted ww-mono"}, [p.code]),
        ]);
      }, {sticky: true, className: "ww-tip"});
      partyLayer.addLayer(layer);
    },
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.ww-f-party"), function (box) {
    box.addEventListener("change", function () {
      (partyByType[box.value] || []).forEach(function (layer) {
        if (box.checked) partyLayer.addLayer(layer); else partyLayer.removeLayer(layer);
      });
    });
  });
  window.wwParty = partyLayer;
  window.wwFindings = byIndex;
  window.wwLoaded = true;
  return grids;
}
