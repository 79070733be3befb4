"""The ``gisportal`` command line."""
