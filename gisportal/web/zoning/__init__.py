"""The map, the plans in force, tiles and tile archives on the web."""
