"""The note on the web: official notes, verification, the lean JSON front, history, situation."""
