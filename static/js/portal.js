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
  /* A number with its unit, kept left-to-right inside Arabic text. */
  function qty(value, unit, digits) { return "<bdi>" + fmt(value, digits) + "\u00a0" + unit + "</bdi>"; }
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
      var rules = r ? "COS " + fmt(r.cos) + " · CES " + fmt(r.ces * 100, 0) + "% · " + fmt(r.max_height_m) + " m" +
        (r.floors ? " (" + esc(r.floors) + ")" : "") : "<em>" + esc(ui.rulesMissing) + "</em>";
      return "<tr class=\"gp-summary-zone\" data-code=\"" + esc(z.code) + "\"><td><b>" + esc(z.code) + "</b> " +
        esc(z.label) + "<br><small>" + rules + "</small></td><td class=\"gp-summary-share\">" +
        qty(z.share * 100, "%", 1) + "</td></tr>";
    }).join("");
    var overlays = note.overlays.length ? note.overlays.map(function (o) {
      return "<li data-kind=\"" + esc(o.kind) + "\">" + esc(o.kind_label) + " — " + qty(o.area_m2, "m²", 0) + "</li>";
    }).join("") : "<li>" + esc(ui.none) + "</li>";
    var b = note.buildability;
    var url = cfg.notePage + "?" + query({ref: note.parcel.ref});
    message(
      "<div class=\"gp-note-summary\">" +
      "<h2 class=\"gp-summary-ref\" dir=\"ltr\">" + esc(note.parcel.ref) + "</h2>" +
      "<div><bdi>" + esc(note.parcel.address || "") + "</bdi>" + (note.parcel.quarter ? " — <bdi>" + esc(note.parcel.quarter) + "</bdi>" : "") + "</div>" +
      "<div>" + esc(ui.area) + ": <b class=\"gp-summary-area\">" + qty(note.parcel.area_m2, "m²") + "</b></div>" +
      "<h3>" + esc(ui.zones) + "</h3><table>" + zones + "</table>" +
      "<h3>" + esc(ui.servitudes) + "</h3><ul class=\"gp-summary-overlays\">" + overlays + "</ul>" +
      "<div>" + esc(ui.maxFootprint) + ": <b>" + qty(b.max_footprint_m2, "m²", 0) + "</b></div>" +
      "<div>" + esc(ui.maxFloorArea) + ": <b>" + qty(b.max_floor_area_m2, "m²", 0) + "</b></div>" +
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

  var suggestions = [], active = -1, timer = null;
  function renderSuggestions() {
    if (!suggestions.length) {
      list.innerHTML = input.value.trim() ? "<li class=\"gp-none\">" + esc(ui.noResult) + "</li>" : "";
      list.hidden = !input.value.trim();
      return;
    }
    list.innerHTML = suggestions.map(function (s, i) {
      return "<li role=\"option\" data-index=\"" + i + "\" aria-selected=\"" + (i === active) + "\"><span class=\"gp-kind\">" +
        esc(ui[s.kind] || s.kind) + "</span>" + esc(s.label) + "</li>";
    }).join("");
    list.hidden = false;
  }
  function choose(s) {
    list.hidden = true;
    if (!s) { return; }
    input.value = s.label;
    if (s.kind === "parcel" && s.ref) { noteOf(s.ref); return; }
    var latlng = L.latLng(s.lat, s.lon);
    map.setView(latlng, s.kind === "quarter" ? 16 : 18);
    if (s.kind === "coordinates") { noteAt(latlng); }
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var text = input.value.trim();
      if (!text) { suggestions = []; renderSuggestions(); return; }
      getJSON("/search", {q: text, limit: 10}).then(function (r) {
        if (input.value.trim() !== text) { return; }
        suggestions = r.status === 200 ? r.body.suggestions : [];
        active = suggestions.length ? 0 : -1;
        renderSuggestions();
      });
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
      choose(suggestions[active] || suggestions[0]);
    } else if (e.key === "Escape") {
      list.hidden = true;
    }
  });
  list.addEventListener("click", function (e) {
    var item = e.target.closest("li[data-index]");
    if (item) { choose(suggestions[Number(item.getAttribute("data-index"))]); }
  });

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
