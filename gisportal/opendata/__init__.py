"""Open data for GIS tools: OGC API – Features and downloads."""
