"""A site, not only a parcel: several parcels or a drawn/uploaded outline, and its note.

* :mod:`gisportal.sites.input`: the site's outline from land-title references or a GeoJSON geometry (checked,
  repaired, limited, placed in the territory), in the store's metric CRS;
* :mod:`gisportal.sites.note`: the site note (zones with shares on the union of each code's features, overlaps
  between codes, the remainder, buildability, servitudes, parcels covered, one stated result per layer);
* :mod:`gisportal.sites.render`: JSON-ready data and the signed payload of a site note.

No module here imports Flask.
"""
