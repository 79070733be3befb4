"""Planners' pages: upload, validation report, impact, publication, rules editor."""
