"""Zoning: plans and their versions, zones and overlays, parcels, the rules catalogue, lookup,
search, map layers and vector tiles."""
