/* gisportal complaints: the place of a complaint picked on the map (filing form), and the staff map of
   complaints. Leaflet and VectorGrid are served by this server; nothing is fetched from elsewhere. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("gp-complaint-config").textContent);
  var box = document.getElementById("gp-complaint-map");
  if (!box || !window.L) { return; }
  var map = L.map(box, {maxZoom: 20, minZoom: 3});
  window.gpComplaints = {map: map, marker: null};
  if (cfg.basemap) { L.tileLayer(cfg.basemap, {attribution: cfg.attribution || "", maxZoom: 20}).addTo(map); }
  if (L.vectorGrid && cfg.tiles) {
    var styles = {zones: {weight: 1, color: "#5b6b7a", fill: true, fillColor: "#dde5ec", fillOpacity: 0.35}};
    L.vectorGrid.protobuf(cfg.tiles.replace("{layer}", "zones"), {
      rendererFactory: L.canvas.tile, interactive: false, maxNativeZoom: 16, minZoom: 8, maxZoom: 22,
      vectorTileLayerStyles: styles
    }).addTo(map);
  }
  if (cfg.bounds) { map.fitBounds(cfg.bounds); } else { map.setView([0, 0], 3); }
  L.control.scale().addTo(map);

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  if (cfg.points) {  /* staff: the complaints listed, red when overdue */
    var group = L.featureGroup().addTo(map);
    cfg.points.forEach(function (p) {
      L.circleMarker([p.lat, p.lon], {radius: 7, weight: 2, color: p.overdue ? "#b42318" : "#0b5d7a",
                                      fillOpacity: 0.6})
        .bindPopup('<a href="' + esc(p.url) + '" dir="ltr">' + esc(p.number) + "</a>")
        .addTo(group);
    });
    if (cfg.points.length) { map.fitBounds(group.getBounds().pad(0.3), {maxZoom: 17}); }
    window.gpComplaints.points = group;
    return;
  }

  /* citizen: a click picks the place; the parcel under it is shown when there is one */
  var lon = document.getElementById("lon"), lat = document.getElementById("lat");
  var picked = document.getElementById("gp-complaint-picked");
  function pick(latlng) {
    lon.value = latlng.lng.toFixed(7);
    lat.value = latlng.lat.toFixed(7);
    if (window.gpComplaints.marker) { window.gpComplaints.marker.setLatLng(latlng); }
    else { window.gpComplaints.marker = L.marker(latlng, {keyboard: false}).addTo(map); }
    picked.textContent = picked.dataset.picked + " " + lat.value + ", " + lon.value;
    picked.dataset.lat = lat.value;
    fetch(cfg.api + "/parcels?lon=" + encodeURIComponent(lon.value) + "&lat=" + encodeURIComponent(lat.value),
          {headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (feature) {
        if (feature && feature.properties && feature.properties.ref) {
          picked.textContent += " — " + picked.dataset.parcel + " " + feature.properties.ref;
          picked.dataset.parcelRef = feature.properties.ref;
        }
      })
      .catch(function () { /* the place is enough */ });
  }
  map.on("click", function (e) { pick(e.latlng); });
  if (lon.value && lat.value && !isNaN(+lon.value) && !isNaN(+lat.value)) {
    pick(L.latLng(+lat.value, +lon.value));
  }
})();
