"""OGC API – Features over the store (no Flask here): collections, parameters, CRS, CQL2, documents.

The web layer (:mod:`gisportal.web.opendata.ogc`) is a thin Blueprint that hands request arguments to these modules and
sends back what they build.
"""
