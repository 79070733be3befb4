"""gisportal: the online front door of an urban-planning agency.

The domain modules (plans, parcels, rules, notes, imports, storage) never import
Flask; the web layer lives in :mod:`gisportal.web` and is built by
:func:`gisportal.web.create_app`.
"""

__version__ = "0.1.0"
