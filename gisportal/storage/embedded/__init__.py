"""The embedded store: a GeoPackage file per instance, indexed in memory."""
