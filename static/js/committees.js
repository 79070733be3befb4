/* Committee decisions: the map of decided files over the zones in force (Leaflet and VectorGrid served by the
   portal; the base map only when the instance configures one; no CDN). */
(function () {
  "use strict";
  var box = document.getElementById("gp-committee-map");
  if (!box || typeof L === "undefined") { return; }
  var points = JSON.parse(box.getAttribute("data-points") || '{"features": []}');
  var colours = {favourable: "#1a7f37", unfavourable: "#b42318", adjourned: "#b26b00"};
  var cfg = JSON.parse(box.getAttribute("data-config") || "{}");
  var map = L.map(box, {scrollWheelZoom: false, maxZoom: 20});
  if (cfg.basemap) { L.tileLayer(cfg.basemap, {attribution: cfg.attribution || "", maxZoom: 20}).addTo(map); }
  if (L.vectorGrid && cfg.tiles) {  /* the zones as context, like the other service maps */
    L.vectorGrid.protobuf(cfg.tiles.replace("{layer}", "zones"), {
      rendererFactory: L.canvas.tile, interactive: false, maxNativeZoom: 16, minZoom: 8, maxZoom: 22,
      vectorTileLayerStyles: {zones: {weight: 1, color: "#5b6b7a", fill: true, fillColor: "#dde5ec",
                                      fillOpacity: 0.35}}
    }).addTo(map);
  }
  var layer = L.geoJSON(points, {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, {radius: 7, weight: 2, color: colours[feature.properties.decision] || "#555",
                                     fillOpacity: 0.7});
    },
    onEachFeature: function (feature, marker) {
      var p = feature.properties, div = document.createElement("div");
      [p.file, p.label, p.date, p.project].forEach(function (text) {
        var line = document.createElement("div");
        line.textContent = text;  /* text only: nothing is read as HTML */
        div.appendChild(line);
      });
      marker.bindPopup(div);
    }
  }).addTo(map);
  if (points.features.length) {
    map.fitBounds(layer.getBounds(), {maxZoom: 16, padding: [20, 20]});
  } else if (cfg.bounds) {
    map.fitBounds(cfg.bounds);
  } else {
    map.setView([0, 0], 2);
  }
  box.setAttribute("data-ready", String(points.features.length));
})();
