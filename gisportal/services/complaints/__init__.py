"""Complaints filed by citizens and their handling by agency staff."""
