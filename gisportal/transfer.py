"""Moving an instance between backends without loss: plans with their history, parcels, issued notes.

``copy_instance`` replays every plan version in order (approval acts, dates,
publication times, zones and servitudes), then the parcels, the instance
facts and the registry of issued notes, through the ordinary store and
registry APIs. The target must be empty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gisportal.errors import InvalidInput
from gisportal.registry import NoteRegistry
from gisportal.storage.base import NewPlanVersion, Store

logger = logging.getLogger(__name__)

_INTERNAL_META = {"generation", "instance", "plans_generation", "parcels_generation", "crs"}


@dataclass(frozen=True)
class TransferReport:
    """What was copied."""

    plan_versions: int
    zones: int
    overlays: int
    parcels: int
    issued_notes: int


def copy_instance(source: Store, target: Store, source_registry: NoteRegistry | None = None,
                  target_registry: NoteRegistry | None = None) -> TransferReport:
    """Copy everything from ``source`` into the empty ``target``."""
    if target.plan_versions() or target.counts().get("parcels"):
        raise InvalidInput("The target already holds data; import into an empty store.")
    if source_registry is not None and target_registry is not None and target_registry.search("", 1):
        raise InvalidInput("The target's registry already holds issued notes; import into an empty instance.")
    plans = {p.id: p for p in source.plans()}
    zones = overlays = 0
    for version in sorted(source.plan_versions(), key=lambda v: (v.plan_id, v.version)):
        plan = plans[version.plan_id]
        zone_frame = source.features("zones", [version.id], None)
        overlay_frame = source.features("overlays", [version.id], None)
        new = NewPlanVersion(plan.name, plan.title_fr, plan.title_ar, version.approval_act, version.approval_date,
                             version.effective_from, version.published_at)
        target.publish_plan_version(new, zone_frame.drop(columns=["version_id"], errors="ignore"),
                                    overlay_frame.drop(columns=["version_id"], errors="ignore"))
        zones += len(zone_frame)
        overlays += len(overlay_frame)
    parcels = source.features("parcels", None, None)
    if len(parcels):
        target.put_parcels(parcels)
    facts = {k: v for k, v in source.meta().items() if k not in _INTERNAL_META}
    if facts:
        target.set_meta(facts)
    notes = 0
    if source_registry is not None and target_registry is not None:
        notes = target_registry.copy_from(source_registry)
    report = TransferReport(len(source.plan_versions()), zones, overlays, len(parcels), notes)
    logger.info("instance copied: %s", report)
    return report
