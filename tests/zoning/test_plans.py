"""Plan versions: which one is in force on a date, and the status of each (hand-picked dates)."""

from __future__ import annotations

from datetime import date

import pytest

from gisportal.zoning.plans import PlanVersion, version_status, versions_in_force


def pv(id: int, plan_id: int, version: int, effective: date, name: str = "centre") -> PlanVersion:
    return PlanVersion(id=id, plan_id=plan_id, plan_name=name, version=version, approval_act=f"Décret {id}",
                       approval_date=effective, effective_from=effective)


V1 = pv(1, 1, 1, date(2010, 3, 1))
V2 = pv(2, 1, 2, date(2018, 7, 15))
OTHER = pv(3, 2, 1, date(2005, 1, 1), name="nord")
ALL = [V2, OTHER, V1]  # order of the input does not matter


def test_legal_end_is_ten_years_after_effect():
    assert V1.legal_end == date(2020, 3, 1)
    assert V2.legal_end == date(2028, 7, 15)
    assert pv(9, 9, 1, date(2016, 2, 29)).legal_end == date(2026, 2, 28)


@pytest.mark.parametrize(("as_of", "expected"), [
    (date(2004, 12, 31), []),
    (date(2005, 1, 1), [3]),
    (date(2010, 2, 28), [3]),
    (date(2010, 3, 1), [1, 3]),          # effective on its first day
    (date(2018, 7, 14), [1, 3]),
    (date(2018, 7, 15), [2, 3]),         # the new version replaces the old one on its first day
    (date(2040, 1, 1), [2, 3]),          # lapsed versions still answer (the note says they lapsed)
])
def test_versions_in_force(as_of, expected):
    assert sorted(v.id for v in versions_in_force(ALL, as_of)) == expected


def test_versions_in_force_one_per_plan_sorted_by_plan_name():
    assert [v.plan_name for v in versions_in_force(ALL, date(2020, 1, 1))] == ["centre", "nord"]


@pytest.mark.parametrize(("version", "as_of", "status", "effective_to", "superseded_by"), [
    (V1, date(2009, 12, 31), "future", None, None),
    (V1, date(2010, 3, 1), "in_force", date(2018, 7, 15), None),
    (V1, date(2015, 6, 1), "in_force", date(2018, 7, 15), None),
    (V1, date(2018, 7, 15), "superseded", date(2018, 7, 15), 2),
    (V1, date(2024, 1, 1), "superseded", date(2018, 7, 15), 2),
    (V2, date(2015, 6, 1), "future", None, None),
    (V2, date(2018, 7, 15), "in_force", date(2028, 7, 15), None),
    (V2, date(2028, 7, 14), "in_force", date(2028, 7, 15), None),
    (V2, date(2028, 7, 15), "lapsed", date(2028, 7, 15), None),  # ten years without a new version
    (V2, date(2035, 1, 1), "lapsed", date(2028, 7, 15), None),
    (OTHER, date(2014, 12, 31), "in_force", date(2015, 1, 1), None),
    (OTHER, date(2015, 1, 1), "lapsed", date(2015, 1, 1), None),
])
def test_version_status(version, as_of, status, effective_to, superseded_by):
    result = version_status(version, ALL, as_of)
    assert result.version == version
    assert (result.status, result.effective_to, result.superseded_by) == (status, effective_to, superseded_by)


def test_other_plans_do_not_supersede():
    # OTHER (plan 2) is not superseded by plan 1's versions, however recent.
    assert version_status(OTHER, ALL, date(2012, 1, 1)).status == "in_force"


def test_two_versions_effective_the_same_day():
    """A corrected version published the same day replaces the first one (as versions_in_force says)."""
    first, fix = pv(10, 5, 1, date(2024, 5, 2), "sud"), pv(11, 5, 2, date(2024, 5, 2), "sud")
    versions = [first, fix]
    assert versions_in_force(versions, date(2024, 6, 1)) == [fix]
    assert version_status(fix, versions, date(2024, 6, 1)).status == "in_force"
    status = version_status(first, versions, date(2024, 6, 1))
    assert (status.status, status.effective_to, status.superseded_by) == ("superseded", date(2024, 5, 2), 2)
