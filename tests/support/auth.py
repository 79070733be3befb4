"""Test support taken from ``test_auth.py``: shared by several test modules."""

from __future__ import annotations

import re

import pytest

from gisportal.core.accounts import Accounts

PASSWORDS = {"amina": "amina's long password", "youssef": "youssef's long password", "old": "old's long password"}


@pytest.fixture
def auth_app(empty_instance):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True, "default_language": "en"})
    accounts = Accounts(app.extensions["gisportal"].agency)
    accounts.create("amina", PASSWORDS["amina"], "admin", "Amina El Idrissi", actor="test")
    accounts.create("youssef", PASSWORDS["youssef"], "planner", actor="test")
    accounts.create("old", PASSWORDS["old"], "planner", actor="test")
    accounts.set_active("old", False, actor="test")
    yield app
    app.extensions["gisportal"].store.close()


@pytest.fixture
def client(auth_app):
    return auth_app.test_client()


def token(client, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, username: str, password: str | None = None, status: int = 303, **extra):
    response = client.post("/login", data={"username": username, "password": password or PASSWORDS[username],
                                           "csrf_token": token(client), **extra})
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
    return response
