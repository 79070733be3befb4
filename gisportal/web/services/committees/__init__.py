"""Committee results on the web: public pages and staff pages."""
