"""Contact details people type (phone numbers, e-mail addresses), checked by the libraries that know them:
``phonenumbers`` (libphonenumber's numbering plans) and ``email-validator``. One place for every service.

A phone number is accepted when libphonenumber finds it possible (the right length for its country; numbers
written without a country code are Moroccan); Morocco's plan data marks some real fixed lines of Tangier
(0539 …) "invalid", so validity is not asked.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

#: Country of numbers written without their country code.
DEFAULT_REGION = "MA"


def phone_number(value: str | None, region_only: str | None = None) -> phonenumbers.PhoneNumber | None:
    """The phone number ``value`` parsed, or ``None`` when it is not one (or not of ``region_only``, e.g. "MA")."""
    text = (value or "").strip()
    if not text or len(text) > 40:
        return None
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    if region_only is not None and phonenumbers.region_code_for_number(number) != region_only:
        return None
    return number


def is_phone_number(value: str | None, region_only: str | None = None) -> bool:
    """Whether ``value`` is a phone number (of ``region_only`` when given)."""
    return phone_number(value, region_only) is not None


def email_address(value: str | None) -> str | None:
    """The e-mail address ``value`` normalised (domain lower-cased...), or ``None`` when it is not one.

    Its syntax only: whether the domain receives mail is not looked up (no network at run time).
    """
    try:
        return validate_email((value or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None
