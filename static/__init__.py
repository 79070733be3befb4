"""Resource package: the static files (styles, scripts, images, vendored front-end libraries), shipped as
``gisportal.static`` (see setup.py)."""
