/* weiwang web maps: shared helpers (plain ES2017, no framework).
 *
 * Every string that came from a user (grid names, people, incident text) reaches the DOM through
 * textContent (ww.el) — never innerHTML. The page's data sits in <script id="ww-data">.
 */
"use strict";

var ww = (function () {
  var data = null;

  function pageData() {
    if (!data) data = JSON.parse(document.getElementById("ww-data").textContent);
    return data;
  }

  /* el("div", {class: "x", title: "y"}, ["text", childNode, ...]) — text children become text nodes. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "class") node.className = v;
        else if (k === "style") node.setAttribute("style", v);
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return node;
  }

  /* GCJ-02 forward (the public algorithm; same constants as geo.crs). Identity outside its rectangle. */
  var GCJ_A = 6378245.0, GCJ_EE = 0.00669342162296594323;
  function gcj(lon, lat) {
    if (!(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271)) return [lon, lat];
    var x = lon - 105.0, y = lat - 35.0, PI = Math.PI;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dLat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    dLat += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dLon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    dLon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var radLat = lat / 180.0 * PI, magic = Math.sin(radLat);
    magic = 1 - GCJ_EE * magic * magic;
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtMagic) * PI);
    dLon = (dLon * 180.0) / (GCJ_A / sqrtMagic * Math.cos(radLat) * PI);
    return [lon + dLon, lat + dLat];
  }

  /* WGS84 lon/lat (as the API returns) → Leaflet LatLng in the page's overlay CRS. */
  function toMap(lon, lat) {
    if (pageData().crs === "gcj02") {
      var g = gcj(lon, lat);
      return L.latLng(g[1], g[0]);
    }
    return L.latLng(lat, lon);
  }

  function msg(text, kind, link) {
    var box = document.getElementById("ww-msg");
    if (!box) return;
    box.textContent = "";
    box.className = "ww-msg" + (kind ? " ww-" + kind : "");
    if (text) box.appendChild(document.createTextNode(text));
    if (link) {
      box.appendChild(document.createTextNode(" "));
      box.appendChild(el("a", {href: link.href}, [link.text]));
    }
  }

  function token() {
    try { return window.localStorage.getItem("weiwang_token"); } catch (e) { return null; }
  }

  function loginLink() {
    var d = pageData();
    var next = window.location.pathname + window.location.search;
    return {href: (d.login || "/maps/login") + "?next=" + encodeURIComponent(next), text: "去登录"};
  }

  /* fetch JSON from our API with the bearer token; rejects with {status, message} (zh). */
  function api(path, options) {
    var opts = options || {};
    var headers = {"Accept": "application/json"};
    var t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(pageData().api + path, {
      method: opts.method || "GET",
      headers: headers,
      credentials: "same-origin",
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (resp.ok) return body;
        var err = body && body.error ? body.error : {};
        var message = err.message_zh || ("请求失败（HTTP " + resp.status + "）");
        if (resp.status === 401) {
          message = "请先登录";
          msg(message, "error", loginLink());
        }
        throw {status: resp.status, message: message, field: err.field || null};
      });
    });
  }

  /* Live updates: a function that polls GET {api}/feed/incidents?community=CODE with the ETag of
   * the last answer. Unchanged: the server answers 304 (no body, nothing rebuilt) and onItems is not
   * called; changed: onItems(items) and window.wwPolls counts it. Resolves true when it changed.
   * Rejects with {status} on an error (the caller's interval simply tries again). */
  function feed(community, onItems) {
    var etag = null;
    return function poll() {
      var headers = {"Accept": "application/json"};
      var t = token();
      if (t) headers["Authorization"] = "Bearer " + t;
      if (etag) headers["If-None-Match"] = etag;
      var q = pageData().api + "/feed/incidents?community=" + encodeURIComponent(community);
      return fetch(q, {headers: headers, credentials: "same-origin"}).then(function (resp) {
        if (resp.status === 304) return false;
        if (!resp.ok) throw {status: resp.status, message: "HTTP " + resp.status};
        etag = resp.headers.get("ETag");
        return resp.json().then(function (body) {
          onItems(body && body.items ? body.items : []);
          window.wwPolls = (window.wwPolls || 0) + 1;
          return true;
        });
      });
    };
  }

  function peopleLine(label, people) {
    var names = (people || []).map(function (p) { return p[1] ? p[0] + "（" + p[1] + "）" : p[0]; });
    return el("div", null, [el("b", null, [label + "："]), names.length ? names.join("、") : "（空缺）"]);
  }

  /* A micro-grid's hover card: code, name, 微网格长, 微网格员. */
  function microCard(p) {
    return el("div", {class: "ww-card"}, [
      el("div", {class: "ww-card-title"}, [p.name || "（未命名）"]),
      el("div", {class: "ww-mono"}, [p.code]),
      peopleLine("微网格长", p.heads),
      peopleLine("微网格员", p.workers),
      p.households !== null && p.households !== undefined ? el("div", {class: "ww-muted"}, ["户数：" + p.households]) : null,
    ]);
  }

  var CHAR_PX = 7.0, LABEL_H_PX = 14;
  /* Labels of micro-grids: full code where it fits at this zoom, short code where that fits, else none. */
  function labelLayer(map, features) {
    var group = L.layerGroup().addTo(map);
    var items = features.map(function (f) {
      var p = f.properties;
      var ll = L.latLng(p.lab[1], p.lab[0]);
      var span = el("span", {class: "ww-label-text"}, []);
      var marker = L.marker(ll, {
        interactive: false, keyboard: false,
        icon: L.divIcon({className: "ww-label", html: span, iconSize: null}),
      });
      return {p: p, ll: ll, span: span, marker: marker, shown: null};
    });
    function update() {
      var z = map.getZoom();
      items.forEach(function (it) {
        var mpp = 40075016.686 * Math.cos(it.ll.lat * Math.PI / 180) / Math.pow(2, z + 8);
        var w = it.p.fw / mpp, h = it.p.fh / mpp;
        var text = null;
        if (h >= LABEL_H_PX + 2) {
          if (w >= it.p.code.length * CHAR_PX + 6) text = it.p.code;
          else if (w >= it.p.short.length * CHAR_PX + 6) text = it.p.short;
        }
        if (text === it.shown) return;
        it.shown = text;
        if (text === null) { group.removeLayer(it.marker); return; }
        it.span.textContent = text;
        if (!group.hasLayer(it.marker)) group.addLayer(it.marker);
      });
    }
    map.on("zoomend", update);
    update();
    return group;
  }

  /* Draw the community's grids: micro polygons (class ww-micro, hover card) filled with their general
   * grid's colour as on the printed sheet (layers/palette.py), dark general outlines, the community
   * outline, the micro-grid labels. Sets window.wwMap and the
   * performance mark "ww-grids-drawn" (window.wwGridsDrawnMs) once the layer is on the map. */
  function drawGrids(map, options) {
    if (window.performance && performance.mark) performance.mark("ww-grids-start");
    var opts = options || {};
    var d = pageData();
    var st = d.style;
    var feats = d.grids.features;
    var micro = feats.filter(function (f) { return f.properties.level === "micro"; });
    var general = feats.filter(function (f) { return f.properties.level === "general"; });
    var community = feats.filter(function (f) { return f.properties.level === "community"; });
    var out = {byCode: {}};
    out.micro = L.geoJSON({type: "FeatureCollection", features: micro}, {
      style: opts.microStyle || function (f) {
        return {className: "ww-micro", color: st.microLine, weight: 1, opacity: 0.9,
                fillColor: f.properties.color, fillOpacity: st.generalFillOpacity};
      },
      onEachFeature: function (f, layer) {
        out.byCode[f.properties.code] = layer;
        layer.bindTooltip(function () { return (opts.microCard || microCard)(f.properties); },
                          {sticky: true, direction: "top", className: "ww-tip"});
        layer.on("mouseover", function () { layer.setStyle({weight: 3}); });
        layer.on("mouseout", function () { layer.setStyle({weight: 1}); });
      },
    });
    out.general = L.geoJSON({type: "FeatureCollection", features: general}, {
      interactive: !!opts.generalStyle,
      style: opts.generalStyle || function (f) {
        return {className: "ww-general", color: st.generalLine, weight: 3, fill: false, interactive: false};
      },
      onEachFeature: function (f, layer) {
        out.byCode[f.properties.code] = layer;
        if (opts.generalCard) {
          layer.bindTooltip(function () { return opts.generalCard(f.properties); },
                            {sticky: true, direction: "top", className: "ww-tip"});
        }
      },
    });
    out.community = L.geoJSON({type: "FeatureCollection", features: community}, {
      interactive: false,
      style: function () {
        return {className: "ww-community", color: st.community, weight: 4, dashArray: "8 4", fill: false,
                interactive: false};
      },
    });
    // The view first, then the layers: added before fitBounds, every path and label was projected
    // and drawn at the start zoom, then again at the fitted one.
    var bounds = out.community.getBounds();
    if (!bounds.isValid()) bounds = out.micro.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, {padding: [10, 10], animate: false});  // no stale zoom animation
    out.micro.addTo(map);
    out.general.addTo(map);
    out.community.addTo(map);
    if (opts.labels !== false) out.labels = labelLayer(map, micro);
    L.control.scale({imperial: false}).addTo(map);
    window.wwMap = map;
    window.wwGrids = out;
    if (window.performance && performance.mark) performance.mark("ww-grids-drawn");
    window.wwGridsDrawnMs = window.performance ? performance.now() : 0;
    return out;
  }

  /* Zoom to a layer (polygon bounds or point), without animation (lists jump straight there). */
  function zoomTo(map, layer) {
    if (!layer) return;
    if (layer.getBounds) {
      var b = layer.getBounds();
      if (b.isValid()) map.fitBounds(b, {maxZoom: 18, padding: [30, 30], animate: false});
    } else if (layer.getLatLng) {
      map.setView(layer.getLatLng(), Math.max(map.getZoom(), 17), {animate: false});
    }
  }

  /* The caller's notices (GET /notices) into the page's badge (#ww-notice-badge) and list
   * (#ww-notices), newest first as the server sends them; a click on an item calls onClick(notice).
   * Resolves with the answer (unread, items). */
  function notices(onClick) {
    return api("/notices").then(function (body) {
      var badge = document.getElementById("ww-notice-badge");
      badge.textContent = String(body.unread);
      badge.classList.toggle("ww-has", body.unread > 0);
      var list = document.getElementById("ww-notices");
      list.textContent = "";
      if (!body.items.length) list.appendChild(el("li", {class: "ww-muted"}, ["暂无通知"]));
      body.items.forEach(function (n) {
        var li = el("li", {class: n.read ? "ww-muted" : "", "data-id": String(n.id)}, [fmtTime(n.created_at) + " " + n.message]);
        li.addEventListener("click", function () { onClick(n); });
        list.appendChild(li);
      });
      return body;
    });
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    var t = new Date(iso);
    if (isNaN(t.getTime())) return String(iso);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return t.getFullYear() + "-" + p(t.getMonth() + 1) + "-" + p(t.getDate()) + " " + p(t.getHours()) + ":" + p(t.getMinutes());
  }

  return {data: pageData, el: el, gcj: gcj, toMap: toMap, msg: msg, api: api, drawGrids: drawGrids,
          microCard: microCard, zoomTo: zoomTo, fmtTime: fmtTime, loginLink: loginLink, token: token,
          feed: feed, notices: notices};
})();
