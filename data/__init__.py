"""Resource package: default catalogues (rules, fees, contact details, samples), shipped as ``gisportal.data``
(see setup.py)."""
