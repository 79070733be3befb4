"""One yearly numbering service (issue #13): complaints and orders take their numbers the same way, on both
backends; concurrent takers get distinct numbers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from gisportal.core.agencydb import load_table_modules
from gisportal.core.numbering import lock_key, next_in_year, yearly_number
from gisportal.core.settings import load_settings
from gisportal.storage import open_agency, open_store


def test_yearly_numbers_are_sequential_per_year_and_distinct_under_concurrency(empty_instance):
    load_table_modules()
    from gisportal.services.payments.orders import orders

    settings = load_settings(empty_instance.settings)
    store = open_store(settings)
    agency = open_agency(settings, store)

    def take(year: int) -> int:
        for _ in range(50):
            try:
                with agency.write() as conn:
                    seq = next_in_year(conn, orders.c.seq, orders.c.year, year)
                    conn.execute(sa.insert(orders).values(
                        reference=yearly_number("CMD", year, seq), invoice_number=yearly_number("FAC", year, seq),
                        year=year, seq=seq, service="s", amount=1, currency="MAD", status="pending", quote="{}",
                        access_token=f"t{year}-{seq}", created_at=sa.func.now()))
                return seq
            except sa.exc.IntegrityError:  # SQLite: two readers saw the same maximum; the constraint refused one
                continue
        raise AssertionError("no number taken")

    try:
        with ThreadPoolExecutor(4) as pool:
            taken = list(pool.map(take, [2026] * 12))
        assert sorted(taken) == list(range(1, 13))
        assert take(2027) == 1 and take(2026) == 13  # a sequence per year
    finally:
        agency.close()
        store.close()
    assert yearly_number("RC", 2026, 123) == "RC-2026-000123"
    assert lock_key(orders) != lock_key(sa.Table("gp_complaints", sa.MetaData()))


def test_notes_are_numbered_by_the_same_service_distinct_under_concurrency(empty_instance, tmp_path):
    """The note registry (NRU-) takes its numbers like the others: concurrent issuers get NRU-<year>-000001..8,
    each note signed with its own number."""
    from gisportal.core.signing import KeyRing
    from gisportal.note.issuing import check_number, content_hash, signed_bytes
    from gisportal.note.registry import issued_notes, open_registry

    settings = load_settings(empty_instance.settings)
    store = open_store(settings)
    registry = open_registry(settings, store)
    keys = KeyRing(tmp_path / "keys")

    def issue(i: int) -> str:
        payload = {"parcel": {"ref": f"TF-{i}"}, "lang": "fr", "as_of": "2026-01-01", "historical": False,
                   "plans": []}
        return registry.issue(payload, content_hash(payload),
                              lambda number, at: keys.sign(signed_bytes(payload, number, at))).number

    try:
        with ThreadPoolExecutor(4) as pool:
            numbers = list(pool.map(issue, range(8)))
        year = numbers[0].split("-")[1]
        assert sorted(numbers) == [f"NRU-{year}-{seq:06d}" for seq in range(1, 9)]
        assert all(check_number(registry, keys, number).number == number for number in numbers)  # seals hold
        assert lock_key(issued_notes) != lock_key(sa.Table("gp_orders", sa.MetaData()))
    finally:
        registry.db.close()
        store.close()
