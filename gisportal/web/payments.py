"""Web pages and API of payments (placeholder until the service lands)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the routes."""
