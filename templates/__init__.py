"""Resource package: the page templates, shipped inside the wheel as ``gisportal.templates`` (see setup.py)."""
