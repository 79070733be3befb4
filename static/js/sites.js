/* gisportal map page: a site of several parcels (shift-click, the "add" button, typed references) or a drawn
   outline (Leaflet-Geoman), its total area, and its note. Plain JavaScript; every request stays on this server. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("gp-site-config").textContent);
  var ui = cfg.ui;
  var map = window.gisportal.map;
  var numberLocale = cfg.lang === "ar" ? "ar-MA" : cfg.lang;
  var selection = [];  // {ref, area_m2, geometry}
  var drawn = null;  // the drawn outline's Leaflet layer
  var highlight = L.geoJSON(null, {style: {color: "#e06000", weight: 3, fillOpacity: 0.25}, interactive: false}).addTo(map);
  var list = document.getElementById("gp-selection");
  var messageBox = document.getElementById("gp-site-message");
  var openButton = document.getElementById("gp-site-open");

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function area(value) {
    return "<bdi>" + Number(value).toLocaleString(numberLocale, {maximumFractionDigits: 0}) + "\u00a0" + esc(ui.m2) + "</bdi>";
  }
  function say(text) { messageBox.textContent = text || ""; }

  function render() {
    highlight.clearLayers();
    selection.forEach(function (p) { highlight.addData({type: "Feature", geometry: p.geometry, properties: {}}); });
    list.innerHTML = selection.map(function (p, i) {
      return "<li class=\"gp-selected-parcel\" data-ref=\"" + esc(p.ref) + "\"><span dir=\"ltr\">" + esc(p.ref) +
        "</span><span>" + area(p.area_m2) + " <button type=\"button\" data-index=\"" + i + "\" aria-label=\"" +
        esc(ui.remove + " " + p.ref) + "\">×</button></span></li>";
    }).join("");
    var total = selection.reduce(function (sum, p) { return sum + p.area_m2; }, 0);
    document.getElementById("gp-selection-count").textContent = String(selection.length);
    document.getElementById("gp-selection-area").innerHTML = area(total);
    openButton.disabled = !selection.length && !drawn;
  }

  function add(feature) {
    var ref = feature.properties.ref;
    if (selection.some(function (p) { return p.ref === ref; })) { say(ui.already + ": " + ref); return; }
    selection.push({ref: ref, area_m2: feature.properties.area_m2, geometry: feature.geometry});
    say("");
    render();
  }
  function fetchParcel(params) {
    var query = Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
    return fetch(cfg.api + "/parcels?" + query, {headers: {Accept: "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {status: r.status, body: body}; }); });
  }
  function addRef(ref) {
    return fetchParcel({ref: ref}).then(function (r) {
      if (r.status === 200) { add(r.body); } else { say(ui.unknown + ": " + ref); }
    }).catch(function () { say(ui.error); });
  }
  function addAt(latlng) {
    return fetchParcel({lon: latlng.lng.toFixed(7), lat: latlng.lat.toFixed(7)}).then(function (r) {
      if (r.status === 200) { add(r.body); } else { say(ui.outsideParcel); }
    }).catch(function () { say(ui.error); });
  }

  /* Leaflet-Geoman draws the outline; one outline at a time. It is loaded when a person first draws (about
     87 KB compressed that the map's first view does without), then attached to the map already made. */
  var geoman = null;
  function loadGeoman() {
    if (geoman) { return geoman; }
    geoman = new Promise(function (resolve, reject) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = cfg.geoman.css;
      document.head.appendChild(css);
      var script = document.createElement("script");
      script.src = cfg.geoman.js;
      script.onload = function () {
        if (!map.pm) { map.pm = new L.PM.Map(map); }
        if (cfg.lang === "fr") { map.pm.setLang("fr"); }
        map.pm.setGlobalOptions({allowSelfIntersection: false, snappable: false});
        resolve(map.pm);
      };
      script.onerror = function () { geoman = null; reject(new Error("Leaflet-Geoman did not load")); };
      document.head.appendChild(script);
    });
    return geoman;
  }
  function drawing() { return map.pm && map.pm.globalDrawModeEnabled(); }
  document.getElementById("gp-site-draw").addEventListener("click", function () {
    loadGeoman().then(function (pm) {
      say(ui.drawHint);
      pm.enableDraw("Polygon", {finishOn: null});
    }).catch(function () { say(ui.error); });
  });
  map.on("pm:create", function (e) {
    if (drawn) { map.removeLayer(drawn); }
    drawn = e.layer;
    drawn.setStyle({color: "#e06000", weight: 3});
    var outline = drawn.toGeoJSON().geometry;
    say(ui.drawn);
    openButton.disabled = false;
    fetch(cfg.api + "/sites/notes", {method: "POST", headers: {"Content-Type": "application/json"},
                                     body: JSON.stringify({geometry: outline, lang: cfg.lang})})
      .then(function (r) { return r.json().then(function (body) { return {status: r.status, body: body}; }); })
      .then(function (r) {
        var box = document.getElementById("gp-site-message");
        if (r.status === 200) {
          box.innerHTML = esc(ui.drawn) + " — " + esc(ui.area) + ": <b class=\"gp-drawn-area\">" +
            area(r.body.site.area_m2) + "</b>";
        } else { say(r.body.message || ui.error); }
      }).catch(function () { say(ui.error); });
  });

  document.getElementById("gp-site-add-ref").addEventListener("click", function () {
    var field = document.getElementById("gp-site-ref");
    // one after the other: the list keeps the order the references were typed in, whatever answers first
    field.value.split(/[,;\s]+/).filter(Boolean).reduce(function (done, ref) {
      return done.then(function () { return addRef(ref); });
    }, Promise.resolve());
    field.value = "";
  });
  document.getElementById("gp-site-ref").addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); document.getElementById("gp-site-add-ref").click(); }
  });
  list.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-index]");
    if (button) { selection.splice(Number(button.getAttribute("data-index")), 1); render(); }
  });
  document.getElementById("gp-site-clear").addEventListener("click", function () {
    selection = [];
    if (drawn) { map.removeLayer(drawn); drawn = null; }
    say("");
    render();
  });
  openButton.addEventListener("click", function () {
    var form = document.getElementById("gp-site-form");
    document.getElementById("gp-site-file").value = "";
    document.getElementById("gp-site-refs").value = drawn ? "" : selection.map(function (p) { return p.ref; }).join(",");
    document.getElementById("gp-site-geometry").value = drawn ? JSON.stringify(drawn.toGeoJSON().geometry) : "";
    form.submit();
  });
  document.getElementById("gp-site-form").addEventListener("submit", function (e) {
    if (!document.getElementById("gp-site-file").files.length) { e.preventDefault(); say(ui.error); return; }
    document.getElementById("gp-site-refs").value = "";
    document.getElementById("gp-site-geometry").value = "";
  });

  /* The parcel summary gets an "add to the selection" button. */
  document.addEventListener("gisportal:note", function (e) {
    var note = e.detail;
    var summary = document.querySelector("#gp-result .gp-note-summary");
    if (!summary) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "gp-button gp-add-selection";
    button.textContent = ui.addToSelection;
    button.addEventListener("click", function () {
      add({properties: {ref: note.parcel.ref, area_m2: note.parcel.area_m2}, geometry: note.parcel.geometry});
    });
    summary.appendChild(button);
  });

  window.gisportalSites = {
    selection: function () { return selection.slice(); },
    addRef: addRef,
    /* portal.js asks before looking up a note: shift-clicks add to the selection, clicks while drawing are vertices */
    takesClick: function (e) {
      if (drawing()) { return true; }
      if (e.originalEvent && e.originalEvent.shiftKey) { addAt(e.latlng); return true; }
      return false;
    }
  };
  render();
})();
