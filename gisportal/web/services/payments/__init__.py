"""Fees and e-payment on the web: pages, API, staff, documents, sandbox."""
