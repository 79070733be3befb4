"""Building-committee sessions and their decisions on permit requests."""
