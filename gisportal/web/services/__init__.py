"""The citizen services on the web."""
