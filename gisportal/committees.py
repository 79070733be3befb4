"""Building-committee sessions, permit-request decisions (issue 6)."""
