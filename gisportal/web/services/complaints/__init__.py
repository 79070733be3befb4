"""Complaints on the web: form, tracking, staff queue, API, receipt."""
