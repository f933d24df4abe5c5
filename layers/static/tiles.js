/* weiwang web maps: grids drawn from vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt) with the
 * vendored Leaflet.VectorGrid, for cities too large to embed. Loaded after common.js on pages whose
 * data block has a "tiles" entry:
 *   {url: "/tiles", community: code or null, zooms: {layer: [min, max]}, colors: {general: colour},
 *    bounds: [[south, west], [north, east]]}
 * Clicking a micro-grid (or a general grid / community when micro-grids are not drawn at that zoom)
 * asks GET {api}/grids/{code} and shows its code, name and the people holding its posts today.
 * Every string reaches the DOM through textContent (ww.el). The tile requests carry the page's
 * cookie (same origin), which is how /tiles knows the caller.
 */
"use strict";

var wwTiles = (function () {
  // Leaflet 1.8+ dropped L.DomEvent.fakeStop, which VectorGrid 1.3.0 calls on a click.
  if (L.DomEvent && !L.DomEvent.fakeStop) L.DomEvent.fakeStop = function () { return true; };

  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"];

  function hashColor(code) {
    var h = 0;
    for (var i = 0; i < (code || "").length; i++) h = (h * 31 + code.charCodeAt(i)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }

  function card(info) {
    var people = (info.people || []).map(function (p) {
      return ww.el("li", null, [p.role + "：" + p.name + (p.phone ? "（" + p.phone + "）" : "")]);
    });
    return ww.el("div", {class: "ww-card", "data-code": info.code}, [
      ww.el("strong", {class: "ww-card-code ww-mono"}, [info.code]),
      ww.el("div", null, [info.name || ""]),
      ww.el("div", {class: "ww-muted"}, [(info.level_zh || info.level) +
        (info.households != null ? " · " + info.households + " 户" : "")]),
      people.length ? ww.el("ul", {class: "ww-card-people"}, people)
                    : ww.el("div", {class: "ww-muted"}, ["暂无在岗人员 no one holds a post"]),
    ]);
  }

  /* Ask who holds the grid's posts and show it in a popup at the clicked point; the result is
   * also kept in window.wwLastCard for tests. */
  function showGrid(map, d, code, latlng) {
    var popup = L.popup({maxWidth: 320}).setLatLng(latlng)
      .setContent(ww.el("div", {class: "ww-card", "data-code": code}, [code + " …"])).openOn(map);
    return ww.api("/grids/" + encodeURIComponent(code))
      .then(function (info) {
        window.wwLastCard = info;
        popup.setContent(card(info));
        return info;
      })
      .catch(function (err) {
        popup.setContent(ww.el("div", {class: "ww-card ww-error"}, [code + "：" + ((err && err.message) || err)]));
      });
  }

  /* Page figures by grid code (the assignment page's open counts) merged into a tile's attributes. */
  function withExtra(t, p) {
    var extra = (t.extra && t.extra[p.code]) || t.extraDefault;
    if (!extra) return p;
    var out = {};
    Object.keys(p).forEach(function (k) { out[k] = p[k]; });
    Object.keys(extra).forEach(function (k) { out[k] = extra[k]; });
    return out;
  }

  function layer(map, d, name, style, onClick) {
    var t = d.tiles;
    var z = t.zooms[name];
    var q = t.community ? "?community=" + encodeURIComponent(t.community) : "";
    if (t.community && t.version) q += "&version=" + encodeURIComponent(t.version);
    var styles = {};
    styles[name] = style;
    var lyr = L.vectorGrid.protobuf(t.url + "/" + name + "/{z}/{x}/{y}.mvt" + q, {
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: styles,
      interactive: !!onClick,
      minZoom: z[0],
      maxNativeZoom: Math.min(z[1], 18),
      maxZoom: 22,
      getFeatureId: function (f) { return f.properties.code; },
      fetchOptions: {credentials: "same-origin"},
    });
    if (onClick) {
      lyr.on("click", function (e) { onClick(e.layer.properties, e.latlng); });
    }
    // setStyle(fn) as on a GeoJSON layer: fn gets {properties} (pages restyle on a switch)
    lyr.setStyle = function (fn) {
      styles[name] = function (p) { return fn({properties: withExtra(t, p)}); };
      lyr.options.vectorTileLayerStyles = styles;
      lyr.redraw();
      return lyr;
    };
    return lyr.addTo(map);
  }

  function markDrawn(layers) {
    var left = layers.length;
    var done = function () {
      if (--left > 0) return;
      if (window.performance && performance.mark) performance.mark("ww-grids-drawn");
      window.wwGridsDrawnMs = window.performance ? performance.now() : 0;
    };
    if (!left) { left = 1; done(); }
    layers.forEach(function (l) { l.once("load", done); });
  }

  /* Draw the grids: on a community's page the general grids and the community come embedded
   * (common.js draws them, with the page's styles) and the micro-grids from tiles; on the city
   * page every level comes from tiles. Returns {community, general, micro, byCode} as common.js
   * does (micro: a VectorGrid layer with setStyle). Sets window.wwMap, window.wwGrids and, once
   * the first view's tiles have loaded, the performance mark "ww-grids-drawn" and
   * window.wwGridsDrawnMs. */
  function drawGrids(map, options) {
    var opts = options || {};
    var d = ww.data();
    var st = d.style || {};
    var colors = d.tiles.colors || {};
    var click = function (p, latlng) { showGrid(map, d, p.code, latlng); };
    // on the dispatcher's page a click reports an incident (dispatch.js): no grid card there
    if (d.page === "dispatch" && d.canReport) click = null;
    var microStyle = opts.microStyle ? function (p) {
      var s = opts.microStyle({properties: withExtra(d.tiles, p)});
      s.fill = true;
      return s;
    } : function (p) {
      return {color: st.microLine || "#555", weight: 0.6, opacity: 0.9, fill: true,
              fillColor: colors[p.parent_code] || p.color || hashColor(p.parent_code),
              fillOpacity: st.generalFillOpacity || 0.25};
    };
    // A layer's minZoom becomes the map's while it is the only one with limits, and Leaflet then
    // zooms in (animated) and lands there after fitBounds: fix the map's own range instead.
    if (map.options.minZoom === undefined) map.options.minZoom = 0;
    if (map.options.maxZoom === undefined) map.options.maxZoom = 20;
    var out;
    if (d.grids && d.grids.features) {
      out = embedded(map, {microStyle: opts.microStyle, generalStyle: opts.generalStyle,
                           generalCard: opts.generalCard, labels: false});
      map.removeLayer(out.micro);
      window.wwGridsDrawnMs = undefined;  // drawn once the micro-grid tiles are (markDrawn below)
      out.micro = layer(map, d, "micro", microStyle, click);
    } else {
      var b = d.tiles.bounds;  // first the view, so that only its tiles are asked for
      if (b) map.fitBounds(L.latLngBounds(b), {padding: [10, 10], animate: false});
      out = {byCode: {}};
      out.micro = layer(map, d, "micro", microStyle, click);
      out.general = layer(map, d, "general", function () {
        return {color: st.generalLine || "#222", weight: 2, fill: true, fillOpacity: 0.01};
      }, click);
      out.community = layer(map, d, "community", function () {
        return {color: st.community || "#c00", weight: 3, dashArray: "8 4", fill: true, fillOpacity: 0.01};
      }, click);
      // the finest level drawn at the zoom takes the click
      var order = function () {
        var zm = map.getZoom();
        if (zm >= d.tiles.zooms.micro[0]) out.micro.bringToFront();
        else if (zm >= d.tiles.zooms.general[0]) out.general.bringToFront();
      };
      map.on("zoomend", order);
      L.control.scale({imperial: false}).addTo(map);
      order();
    }
    window.wwMap = map;
    window.wwGrids = out;
    markDrawn([out.micro, out.general, out.community].filter(function (l) {
      return l && l.options && l.options.vectorTileLayerStyles && map.getZoom() >= l.options.minZoom;
    }));
    return out;
  }

  // Pages call ww.drawGrids(map, …): on a tiled page it draws from tiles instead.
  var embedded = ww.drawGrids;
  ww.drawGrids = function (map, options) {
    return ww.data().tiles ? drawGrids(map, options) : embedded(map, options);
  };

  return {drawGrids: drawGrids, showGrid: showGrid, card: card};
})();
