"""Contact details checked by phonenumbers and email-validator (issue #13): one place for every service."""

from __future__ import annotations

import pytest

from gisportal.core.contact_details import email_address, is_phone_number, phone_number


@pytest.mark.parametrize("value, anywhere, moroccan", [
    ("0661234567", True, True), ("+212 6 70 11 22 33", True, True), ("0539 12 34 56", True, True),
    ("00212 661 23 45 67", True, True), ("(0539) 00-00-00", True, True), ("+33 6 12 34 56 78", True, False),
    ("12", False, False), ("call me", False, False), ("", False, False), (None, False, False),
    ("06612345678901", False, False), ("+212 6 61", False, False), ("9" * 50, False, False)])
def test_phone_numbers(value, anywhere, moroccan):
    assert is_phone_number(value) is anywhere
    assert is_phone_number(value, region_only="MA") is moroccan


def test_a_phone_number_written_without_country_code_is_moroccan():
    number = phone_number("0661 23 45 67")
    assert number is not None and (number.country_code, number.national_number) == (212, 661234567)


@pytest.mark.parametrize("value, expected", [
    ("amina@Example.MA", "amina@example.ma"), (" x.y+tag@agence-urbaine.ma ", "x.y+tag@agence-urbaine.ma"),
    ("not an address", None), ("a@b", None), ("@example.ma", None), ("a@@example.ma", None), ("", None),
    (None, None)])
def test_email_addresses(value, expected):
    assert email_address(value) == expected
