/* gisportal map page: search, click-to-note, parcels by box, locate me.
   Plain JavaScript on the Leaflet map folium built; every request stays on this server. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("gp-config").textContent);
  var ui = cfg.ui;
  var map = window[cfg.mapName];
  var result = document.getElementById("gp-result");
  var input = document.getElementById("gp-q");
  var list = document.getElementById("gp-suggestions");
  var numberLocale = cfg.lang === "ar" ? "ar-MA" : cfg.lang;
  var selected = L.geoJSON(null, {style: {color: "#0033ff", weight: 3, fillOpacity: 0.15}, interactive: false}).addTo(map);
  var styles = cfg.styles;

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function fmt(value, digits) {
    if (value === null || value === undefined) { return "—"; }
    return Number(value).toLocaleString(numberLocale, {maximumFractionDigits: digits === undefined ? 2 : digits});
  }
  /* "R+3" as the page's language writes it (the pattern comes from the catalogue). */
  function floorsLabel(label) {
    var found = /^R\+(\d+)$/.exec(label);
    return found ? ui.floors.replace("%(floors)s", fmt(Number(found[1]), 0)) : label;
  }
  /* A number with its unit, kept left-to-right inside Arabic text. */
  function qty(value, unit, digits) { return "<bdi>" + fmt(value, digits) + "\u00a0" + esc(unit) + "</bdi>"; }
  function query(params) {
    params.lang = cfg.lang;
    if (cfg.asOf) { params.as_of = cfg.asOf; }
    return Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
  }
  function getJSON(path, params, signal) {
    return fetch(cfg.api + path + "?" + query(params), {signal: signal, headers: {Accept: "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {status: r.status, body: body}; }); });
  }
  function message(html) { result.innerHTML = html; }

  function showNote(note) {
    selected.clearLayers();
    selected.addData({type: "Feature", geometry: note.parcel.geometry, properties: {}});
    var zones = note.zones.map(function (z) {
      var r = z.rules;
      var rules = r ? "COS " + fmt(r.cos) + " · CES " + fmt(r.ces * 100, 0) + "% · " + qty(r.max_height_m, ui.m) +
        (r.floors ? " (<bdi>" + esc(floorsLabel(r.floors)) + "</bdi>)" : "") : "<em>" + esc(ui.rulesMissing) + "</em>";
      return "<tr class=\"gp-summary-zone\" data-code=\"" + esc(z.code) + "\"><td><b>" + esc(z.code) + "</b> " +
        esc(z.label) + "<br><small>" + rules + "</small></td><td class=\"gp-summary-share\">" +
        qty(z.share * 100, "%", 1) + "</td></tr>";
    }).join("");
    var overlays = note.overlays.length ? note.overlays.map(function (o) {
      return "<li data-kind=\"" + esc(o.kind) + "\">" + esc(o.kind_label) + " — " + qty(o.area_m2, ui.m2, 0) + "</li>";
    }).join("") : "<li>" + esc(ui.none) + "</li>";
    var b = note.buildability;
    var url = cfg.notePage + "?" + query({ref: note.parcel.ref});
    message(
      "<div class=\"gp-note-summary\">" +
      "<h2 class=\"gp-summary-ref\" dir=\"ltr\">" + esc(note.parcel.ref) + "</h2>" +
      "<div><bdi>" + esc(note.parcel.address || "") + "</bdi>" + (note.parcel.quarter ? " — <bdi>" + esc(note.parcel.quarter) + "</bdi>" : "") + "</div>" +
      "<div>" + esc(ui.area) + ": <b class=\"gp-summary-area\">" + qty(note.parcel.area_m2, ui.m2) + "</b></div>" +
      "<h3>" + esc(ui.zones) + "</h3><table>" + zones + "</table>" +
      "<h3>" + esc(ui.servitudes) + "</h3><ul class=\"gp-summary-overlays\">" + overlays + "</ul>" +
      "<div>" + esc(ui.maxFootprint) + ": <b>" + qty(b.max_footprint_m2, ui.m2, 0) + "</b></div>" +
      "<div>" + esc(ui.maxFloorArea) + ": <b>" + qty(b.max_floor_area_m2, ui.m2, 0) + "</b></div>" +
      "<a class=\"gp-open-note\" href=\"" + esc(url) + "\" target=\"_blank\" rel=\"noopener\">" + esc(ui.openNote) + "</a>" +
      "</div>");
    document.dispatchEvent(new CustomEvent("gisportal:note", {detail: note}));  // static/js/sites.js listens
  }

  function showProblem(response) {
    selected.clearLayers();
    var body = response.body || {};
    // the API's messages are not translated: known cases use the page's own (translated) texts
    var known = {no_parcel_here: ui.noParcel, outside_territory: ui.outside};
    var html = "<p class=\"gp-warning gp-problem\" data-error=\"" + esc(body.error || "") + "\">" +
      esc(known[body.error] || body.message || ui.error) + "</p>";
    if (body.zones_at_point && body.zones_at_point.length) {
      html += "<h3>" + esc(ui.zonesHere) + "</h3><ul class=\"gp-zones-here\">" + body.zones_at_point.map(function (z) {
        return "<li><b>" + esc(z.code) + "</b> " + esc(cfg.lang === "ar" && z.label_ar ? z.label_ar : z.label_fr) + "</li>";
      }).join("") + "</ul>";
    }
    message(html);
  }

  function loadNote(params) {
    message("<p class=\"gp-hint\">" + esc(ui.loading) + "</p>");
    return getJSON("/notes", params).then(function (r) {
      if (r.status === 200) { showNote(r.body); } else { showProblem(r); }
      return r;
    }).catch(function () { message("<p class=\"gp-warning\">" + esc(ui.error) + "</p>"); });
  }
  function noteAt(latlng) { return loadNote({lon: latlng.lng.toFixed(7), lat: latlng.lat.toFixed(7)}); }
  function noteOf(ref) {
    return loadNote({ref: ref}).then(function (r) {
      if (r && r.status === 200) { map.fitBounds(selected.getBounds(), {maxZoom: 18}); }
    });
  }

  map.on("click", function (e) {
    // a shift-click adds to the site selection, a click while drawing is a vertex (static/js/sites.js)
    if (window.gisportalSites && window.gisportalSites.takesClick(e)) { return; }
    noteAt(e.latlng);
  });

  /* Zones, servitudes and parcels as vector tiles of the versions in force. The tiles take no
     pointer events: a click anywhere goes to the map, and the note is looked up by point. */
  function tileUrl(layer) { return styles.tiles.replace("{layer}", layer); }
  function vectorLayer(layer, style) {
    var options = {
      rendererFactory: L.canvas.tile, interactive: false, maxNativeZoom: styles.maxNativeZoom,
      minZoom: styles.layerZooms[layer][0], maxZoom: 22, vectorTileLayerStyles: {}
    };
    options.vectorTileLayerStyles[layer] = style;
    if (styles.archives && L.vectorGrid.pmtiles) {  /* PMTiles archives on a static host (issue #18) */
      return L.vectorGrid.pmtiles(styles.archives.replace("{layer}", layer), options);
    }
    return L.vectorGrid.protobuf(tileUrl(layer), options);
  }
  var zonesLayer = vectorLayer("zones", function (p) {
    var s = styles.zones[p.code] || {color: "#bbbbbb"};
    return {fill: true, fillColor: s.color, fillOpacity: 0.45, color: "#555555", weight: 1};
  }).addTo(map);
  var overlaysLayer = vectorLayer("overlays", function (p) {
    var s = styles.overlays[p.kind] || {color: "#444444"};
    return {fill: true, fillColor: s.color, fillOpacity: 0.15, color: s.color, weight: 2, dashArray: "6 4"};
  }).addTo(map);
  var parcelsLayer = vectorLayer("parcels", {fill: false, color: "#222222", weight: 0.7}).addTo(map);
  var overlaysByName = {};
  overlaysByName[styles.names.zones] = zonesLayer;
  overlaysByName[styles.names.overlays] = overlaysLayer;
  overlaysByName[styles.names.parcels] = parcelsLayer;
  L.control.layers(null, overlaysByName, {collapsed: false, position: "topright"}).addTo(map);

  /* The search box is an ARIA combobox: the list's highlighted option is announced through
     aria-activedescendant while the focus stays in the box. Enter opens the first (or highlighted)
     suggestion of what is typed now, asking the server at once if its answer for that text is not there yet. */
  var suggestions = [], active = -1, timer = null, answeredFor = null;
  function renderSuggestions() {
    var text = input.value.trim();
    if (!suggestions.length) {
      list.innerHTML = text ? "<li class=\"gp-none\" role=\"option\" aria-disabled=\"true\">" + esc(ui.noResult) + "</li>" : "";
      list.hidden = !text;
    } else {
      list.innerHTML = suggestions.map(function (s, i) {
        return "<li role=\"option\" id=\"gp-option-" + i + "\" data-index=\"" + i + "\" aria-selected=\"" + (i === active) +
          "\"><span class=\"gp-kind\">" + esc(ui[s.kind] || s.kind) + "</span>" + esc(s.label) + "</li>";
      }).join("");
      list.hidden = false;
    }
    input.setAttribute("aria-expanded", String(!list.hidden));
    if (active >= 0 && !list.hidden && suggestions.length) {
      input.setAttribute("aria-activedescendant", "gp-option-" + active);
      var item = document.getElementById("gp-option-" + active);
      if (item && item.scrollIntoView) { item.scrollIntoView({block: "nearest"}); }
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }
  function closeList() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }
  function hint() {
    selected.clearLayers();
    message("<p class=\"gp-hint\">" + esc(ui.pickHint || "") + "</p>");
  }
  function choose(s) {
    closeList();
    if (!s) { return; }
    input.value = s.label;
    if (s.kind === "parcel" && s.ref) { noteOf(s.ref); return; }
    var latlng = L.latLng(s.lat, s.lon);
    if (s.kind === "coordinates") { map.setView(latlng, 18); noteAt(latlng); return; }
    hint();  // a quarter or a street: the previous parcel is no longer what the map shows
    map.setView(latlng, s.kind === "quarter" ? 16 : 18);
  }
  function search(text) {
    return getJSON("/search", {q: text, limit: 10}).then(function (r) {
      if (input.value.trim() !== text) { return null; }
      suggestions = r.status === 200 ? r.body.suggestions : [];
      answeredFor = text;
      active = suggestions.length ? 0 : -1;
      renderSuggestions();
      return suggestions;
    });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    answeredFor = null;
    timer = setTimeout(function () {
      var text = input.value.trim();
      if (!text) { suggestions = []; active = -1; renderSuggestions(); return; }
      search(text);
    }, 180);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!suggestions.length) { return; }
      active = (active + (e.key === "ArrowDown" ? 1 : suggestions.length - 1)) % suggestions.length;
      renderSuggestions();
    } else if (e.key === "Enter") {
      e.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      if (answeredFor === text) { choose(suggestions[active] || suggestions[0]); return; }
      clearTimeout(timer);
      search(text).then(function (found) { if (found) { choose(found[0]); } });
    } else if (e.key === "Escape") {
      closeList();
    }
  });
  document.getElementById("gp-search").addEventListener("submit", function (e) { e.preventDefault(); });
  list.addEventListener("click", function (e) {
    var item = e.target.closest("li[data-index]");
    if (item) { choose(suggestions[Number(item.getAttribute("data-index"))]); }
  });

  /* The keyboard's way to choose a parcel: the map takes the focus (Tab), the arrow keys move it, + and −
     zoom, Enter or Space show the parcel under the cross at its centre. */
  var container = map.getContainer();
  container.setAttribute("aria-describedby", "gp-map-keys");
  container.setAttribute("aria-label", ui.mapLabel || "");
  container.setAttribute("role", "application");
  container.addEventListener("keydown", function (e) {
    if (e.target !== container) { return; }
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); noteAt(map.getCenter()); }
  });

  /* Parcels are drawn from a zoom level on: below it, a hint (a button) says so and zooms in. */
  var ZoomHint = L.Control.extend({
    options: {position: "topleft"},
    onAdd: function () {
      var button = L.DomUtil.create("button", "gp-zoom-hint");
      button.type = "button";
      button.textContent = ui.zoomForParcels;
      L.DomEvent.disableClickPropagation(button);
      L.DomEvent.on(button, "click", function () { map.setZoom(cfg.parcelMinZoom); });
      return button;
    }
  });
  var zoomHint = new ZoomHint().addTo(map);
  function showZoomHint() {
    zoomHint.getContainer().hidden = map.getZoom() >= cfg.parcelMinZoom;
  }
  map.on("zoomend", showZoomHint);
  showZoomHint();

  /* On a phone the legend starts closed: open, it would cover half the map and the layer switches. */
  var legend = container.querySelector(".gp-legend details");
  if (legend && window.matchMedia && window.matchMedia("(max-width: 700px)").matches) { legend.open = false; }

  document.getElementById("gp-locate").addEventListener("click", function () {
    map.locate({setView: true, maxZoom: 18});
  });
  map.on("locationfound", function (e) { noteAt(e.latlng); });
  map.on("locationerror", function () { message("<p class=\"gp-warning\">" + esc(ui.locateFailed) + "</p>"); });

  // Leaflet's zoom buttons carry English titles: use the page's language.
  [["in", ui.zoomIn], ["out", ui.zoomOut]].forEach(function (pair) {
    var button = map.getContainer().querySelector(".leaflet-control-zoom-" + pair[0]);
    if (button && pair[1]) { button.title = pair[1]; button.setAttribute("aria-label", pair[1]); }
  });

  window.gisportal = {map: map, noteAt: noteAt, noteOf: noteOf,
                      layers: {zones: zonesLayer, overlays: overlaysLayer, parcels: parcelsLayer}};
})();
