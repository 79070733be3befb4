"""Plans d'aménagement and their versions.

A plan is approved by decree and has legal effect for ten years. It is never
edited in place: a new approved version replaces the one in force, and every
version is kept so that what applied on any past date can be answered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

logger = logging.getLogger(__name__)

#: Legal effect of an approved plan, in years (loi 12-90, art. 28).
LEGAL_EFFECT_YEARS = 10


@dataclass(frozen=True)
class Plan:
    """A planning document, identified by a short name (e.g. ``tanger-centre``)."""

    id: int
    name: str
    title_fr: str
    title_ar: str


@dataclass(frozen=True)
class PlanVersion:
    """One approved version of a plan, with its approval act and effective date."""

    id: int
    plan_id: int
    plan_name: str
    version: int
    approval_act: str
    approval_date: date
    effective_from: date
    title_fr: str = ""
    title_ar: str = ""
    published_at: datetime | None = None
    #: What published it, when it says (e.g. a planner's draft): a publication made but not recorded as such
    #: by its publisher (a failure between the two) is recognised, and never made twice.
    origin: str | None = None

    @property
    def legal_end(self) -> date:
        """The date the plan lapses if no new version replaces it."""
        try:
            return self.effective_from.replace(year=self.effective_from.year + LEGAL_EFFECT_YEARS)
        except ValueError:  # 29 February
            return self.effective_from.replace(year=self.effective_from.year + LEGAL_EFFECT_YEARS, day=28)


@dataclass(frozen=True)
class VersionStatus:
    """A version seen from a given date: in force, superseded, lapsed or future."""

    version: PlanVersion
    status: str  # "in_force" | "superseded" | "lapsed" | "future"
    effective_to: date | None
    superseded_by: int | None


def versions_in_force(versions: list[PlanVersion], as_of: date) -> list[PlanVersion]:
    """For each plan, the latest version whose effect started on or before ``as_of``.

    A lapsed version (more than ten years old, not replaced) still answers: its
    rules are the last approved ones, and the note says it has lapsed.
    """
    latest: dict[int, PlanVersion] = {}
    for version in versions:
        if version.effective_from > as_of:
            continue
        best = latest.get(version.plan_id)
        if best is None or (version.effective_from, version.version) > (best.effective_from, best.version):
            latest[version.plan_id] = version
    return sorted(latest.values(), key=lambda v: (v.plan_name, v.version))


def version_status(version: PlanVersion, versions: list[PlanVersion], as_of: date) -> VersionStatus:
    """Status of ``version`` on ``as_of`` among all versions of the same plan."""
    rank = (version.effective_from, version.version)  # same order as versions_in_force: date, then number
    later = sorted(
        (v for v in versions if v.plan_id == version.plan_id and (v.effective_from, v.version) > rank),
        key=lambda v: (v.effective_from, v.version),
    )
    successor = later[0] if later else None
    if version.effective_from > as_of:
        return VersionStatus(version, "future", None, None)
    if successor is not None and successor.effective_from <= as_of:
        return VersionStatus(version, "superseded", successor.effective_from, successor.version)
    if as_of >= version.legal_end:
        return VersionStatus(version, "lapsed", version.legal_end, None)
    end = successor.effective_from if successor else version.legal_end
    return VersionStatus(version, "in_force", end, None)
