"""Open data on the web: OGC API – Features and downloads."""
