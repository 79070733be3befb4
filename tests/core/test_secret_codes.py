"""One secret-code scheme for complaints' tracking codes and permit files' personal codes (issue #13)."""

from __future__ import annotations

import hashlib
import re

from gisportal.core.secret_codes import ALPHABET, code_matches, hash_code, new_code, normalize_code


def test_codes_are_grouped_from_an_unambiguous_alphabet():
    complaint, permit = new_code(12, 4), new_code(10, 5)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", complaint)
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", permit)
    assert not set(complaint + permit) - set(ALPHABET + "-") and not set("01IO") & set(complaint + permit)
    assert len({new_code(10, 5) for _ in range(200)}) == 200


def test_a_code_is_stored_hashed_and_typed_back_loosely():
    code = "ABCD-EFGH-JKLM"
    stored = hash_code(code)
    assert stored.startswith("scrypt:") and "ABCD" not in stored and stored != hash_code(code)  # salted
    assert normalize_code(" abcd efgh-jklm ") == "ABCDEFGHJKLM"
    assert code_matches(" abcd efgh-jklm ", stored) and not code_matches("ABCD-EFGH-JKLN", stored)
    assert not code_matches(code, None) and not code_matches(None, stored)


def test_personal_codes_hashed_by_the_former_scheme_still_match():
    salt = "0123456789abcdef0123456789abcdef"
    legacy = f"{salt}${hashlib.sha256((salt + 'ABCDEFGHJK').encode()).hexdigest()}"
    assert code_matches("abcde-fghjk", legacy) and not code_matches("ABCDE-FGHJL", legacy)
