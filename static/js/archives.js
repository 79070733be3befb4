/* Vector tiles from PMTiles archives on a static host (issue #18): a Leaflet.VectorGrid layer whose tiles are
   read from one archive by HTTP range requests through the pmtiles library (served by this app, like
   VectorGrid). The tile bytes are handed to VectorGrid's own protobuf reader through a blob: URL. */
(function () {
  "use strict";
  if (typeof L === "undefined" || !L.VectorGrid || typeof pmtiles === "undefined") { return; }
  var parent = L.VectorGrid.Protobuf.prototype._getVectorTilePromise;
  L.VectorGrid.PMTiles = L.VectorGrid.Protobuf.extend({
    initialize: function (archiveUrl, options) {
      L.VectorGrid.Protobuf.prototype.initialize.call(this, archiveUrl, options);
      this._archive = new pmtiles.PMTiles(archiveUrl);
    },
    _getVectorTilePromise: function (coords, tileBounds) {
      var self = this;
      return this._archive.getZxy(coords.z, coords.x, coords.y).then(function (found) {
        if (!found || !found.data) { return {layers: {}}; }
        var url = URL.createObjectURL(new Blob([found.data]));
        var saved = self._url;
        self._url = url;  /* read synchronously by the parent before it fetches */
        var promise;
        try { promise = parent.call(self, coords, tileBounds); } finally { self._url = saved; }
        return promise.then(function (tile) { URL.revokeObjectURL(url); return tile; });
      });
    }
  });
  L.vectorGrid.pmtiles = function (archiveUrl, options) { return new L.VectorGrid.PMTiles(archiveUrl, options); };
}());
