/* weiwang assignment page (交办态势): open incidents per micro-grid, 按期结案率 per general grid,
 * workload per handler. Plain ES2017; user text only through textContent. Needs common.js. */
"use strict";

function wwAssignment(map) {
  var el = ww.el;
  var theme = "open";

  function microStyle(f) {
    var p = f.properties;
    var on = theme === "open";
    return {className: "ww-micro ww-open", color: "#666666", weight: 1, opacity: on ? 0.9 : 0.3,
            fillColor: p.openColor, fillOpacity: on ? 0.75 : 0};
  }
  function generalStyle(f) {
    var p = f.properties;
    var on = theme === "ontime";
    // tiled micro-grids lie below the embedded general grids (tile pane): an unfilled general
    // grid lets a click through to them while the open-incident picture shows
    return {className: "ww-general ww-ontime", color: on ? "#333333" : ww.data().style.generalLine, weight: 3,
            fillColor: p.ontimeColor, fillOpacity: on ? 0.7 : 0, fill: on || !ww.data().tiles};
  }
  function microCard(p) {
    var c = ww.microCard(p);
    c.appendChild(el("div", {class: "ww-big"}, ["未结事件：" + p.open + " 件"]));
    return c;
  }
  function generalCard(p) {
    return el("div", {class: "ww-card"}, [
      el("div", {class: "ww-card-title"}, [p.name]),
      el("div", {class: "ww-mono"}, [p.code]),
      el("div", {class: "ww-big"}, ["按期结案率：" + (p.ontime === null || p.ontime === undefined ? "无应结案件" : p.ontimeText)]),
    ]);
  }
  var grids = ww.drawGrids(map, {microStyle: microStyle, generalStyle: generalStyle, microCard: microCard,
                                 generalCard: generalCard});

  function setTheme(t) {
    theme = t;
    grids.micro.setStyle(microStyle);
    grids.general.setStyle(generalStyle);
    if (t === "open") grids.micro.bringToFront(); else grids.general.bringToFront();
    grids.community.bringToFront();
    document.getElementById("ww-legend-open").classList.toggle("ww-hidden", t !== "open");
    document.getElementById("ww-legend-ontime").classList.toggle("ww-hidden", t !== "ontime");
  }
  Array.prototype.forEach.call(document.querySelectorAll('input[name="ww-theme"]'), function (r) {
    r.addEventListener("change", function () { if (r.checked) setTheme(r.value); });
  });
  setTheme("open");

  Array.prototype.forEach.call(document.querySelectorAll("tr[data-grid]"), function (tr) {
    function go() {
      var layer = grids.byCode[tr.getAttribute("data-grid")];
      if (layer) { ww.zoomTo(map, layer); layer.openTooltip(layer.getBounds().getCenter()); }
    }
    tr.addEventListener("click", go);
    tr.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
  });
  window.wwLoaded = true;
  return grids;
}
