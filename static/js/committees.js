/* Committee decisions: the map of decided files (Leaflet served by the portal; no base map, no CDN). */
(function () {
  "use strict";
  var box = document.getElementById("gp-committee-map");
  if (!box || typeof L === "undefined") { return; }
  var points = JSON.parse(box.getAttribute("data-points") || '{"features": []}');
  var colours = {favourable: "#1a7f37", unfavourable: "#b42318", adjourned: "#b26b00"};
  var map = L.map(box, {scrollWheelZoom: false});
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
  } else {
    map.setView([35.77, -5.80], 12);
  }
  box.setAttribute("data-ready", String(points.features.length));
})();
