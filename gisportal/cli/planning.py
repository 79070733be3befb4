"""Planners' commands: upload a layer as a draft, publish it, roll a plan back, list drafts."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path

import click

from gisportal.cli.options import optional_date
from gisportal.core.settings import load_settings

logger = logging.getLogger(__name__)


def _drafts():
    from gisportal.core.audit import AuditLog
    from gisportal.core.vector_child import ReadLimits
    from gisportal.publishing.drafts import Drafts
    from gisportal.storage import open_agency, open_store
    from gisportal.zoning.rules import load_catalogue

    settings = load_settings()
    store = open_store(settings)
    db = open_agency(settings, store)
    return Drafts(db, AuditLog(db), store, load_catalogue(settings.rules_file), settings.data_dir / "drafts",
                  min_area_m2=settings.overlap_tolerance_m2, limits=ReadLimits.from_settings(settings))


def _publishing_drafts():
    """Drafts on the portal app's own store, so that what listens to publications there (subscribers told their
    parcel's rules changed) hears the CLI's publications too. Links in messages use ``GISPORTAL_PUBLIC_URL``."""
    from gisportal.core.audit import AuditLog
    from gisportal.core.vector_child import ReadLimits
    from gisportal.publishing.drafts import Drafts
    from gisportal.web import create_app

    p = create_app().extensions["gisportal"]
    return Drafts(p.agency, AuditLog(p.agency), p.store, p.catalogue, p.settings.data_dir / "drafts",
                  min_area_m2=p.settings.overlap_tolerance_m2, limits=ReadLimits.from_settings(p.settings))


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--plan", "plan_name", required=True)
@click.option("--kind", type=click.Choice(["zones", "overlays"]), default="zones", show_default=True)
@click.option("--user", required=True, help="Who uploads (recorded in the audit log).")
@click.option("--layer", default=None)
@click.option("--zone-field", default=None)
@click.option("--label-field", default=None)
@click.option("--label-ar-field", default=None)
@click.option("--kind-field", default=None)
@click.option("--kind-value", default=None, help="One servitude kind for every feature.")
@click.option("--crs", default=None)
@click.option("--encoding", default=None)
def upload(path: Path, plan_name: str, kind: str, user: str, **mapping: str | None) -> None:
    """Check a layer and keep it as a draft; prints the report and the impact; exit 1 if it blocks."""
    d = _drafts()
    draft = d.create(path, path.name, plan_name=plan_name, kind=kind, user=user, **mapping)
    out = {"draft": draft.id, "blocking": draft.blocking, "report": draft.report}
    if not draft.blocking:
        impact = d.impact(draft)
        out["impact"] = {"parcels_compared": impact.parcels_compared, "parcels_changed": len(impact.changes)}
    click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    if draft.blocking:
        sys.exit(1)


@click.command()
@click.argument("draft_id", type=int)
@click.option("--act", "approval_act", required=True, help="Approval decree or order.")
@click.option("--approved", required=True, help="Approval date YYYY-MM-DD.")
@click.option("--effective", default=None, help="Date it takes effect (default: approval date).")
@click.option("--user", required=True)
def publish(draft_id: int, approval_act: str, approved: str, effective: str | None, user: str) -> None:
    """Publish a draft as a new version of its plan (the previous one is kept)."""
    version = _publishing_drafts().publish(draft_id, approval_act=approval_act,
                                           approved=optional_date(approved) or date.today(),
                                           effective=optional_date(effective), user=user)
    click.echo(f"{version.plan_name} version {version.version} published (in effect from {version.effective_from})")


@click.command()
@click.argument("plan")
@click.argument("version", type=int)
@click.option("--act", "approval_act", required=True)
@click.option("--approved", required=True)
@click.option("--user", required=True)
def rollback(plan: str, version: int, approval_act: str, approved: str, user: str) -> None:
    """Republish version VERSION of PLAN as a new version."""
    from gisportal.publishing.publication import roll_back

    d = _publishing_drafts()
    new = roll_back(d.store, plan, version, approval_act=approval_act, approved=optional_date(approved) or date.today())
    d.audit.record(user, "rollback", f"plan:{plan}", {"to_version": version, "new_version": new.version,
                                                      "approval_act": approval_act})
    click.echo(f"{plan}: version {version} republished as version {new.version}")


@click.command("drafts")
@click.option("--status", type=click.Choice(["draft", "published", "discarded"]), default=None)
def list_drafts(status: str | None) -> None:
    """List upload drafts (tab-separated)."""
    for draft in _drafts().list(status):
        click.echo(f"{draft.id}\t{draft.plan_name}\t{draft.kind}\t{draft.status}\t"
                   f"{'blocking' if draft.blocking else 'ok'}\t{draft.uploaded_by}\t{draft.created_at.isoformat()}")


#: Added to the ``gisportal`` command by :mod:`gisportal.cli.commands`.
PLANNING_COMMANDS = (upload, publish, rollback, list_drafts)
