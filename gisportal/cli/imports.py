"""Importing layers on the command line: ``import-plan``, ``import-overlays``, ``import-parcels`` (each checked by
the upload's validation first), ``validate`` (the report alone) and ``write-tiles`` (the PMTiles archives)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from gisportal.cli.options import configured_store, optional_date, print_report
from gisportal.core.settings import load_settings

_layer_options = [
    click.option("--layer", default=None, help="Layer name (GeoPackage)."),
    click.option("--crs", default=None, help="CRS of a file that declares none, e.g. EPSG:26191."),
    click.option("--encoding", default=None, help="Attribute encoding, e.g. cp1252."),
]


def _with_layer_options(f: Any) -> Any:
    for option in reversed(_layer_options):
        f = option(f)
    return f


@click.command("import-plan")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Plan name, e.g. tanger-centre.")
@click.option("--zone-field", required=True)
@click.option("--label-field", default=None)
@click.option("--label-ar-field", default=None)
@click.option("--approved", default=None, help="Approval date YYYY-MM-DD (default today).")
@click.option("--approval-act", default=None, help="Approval decree reference.")
@click.option("--title", default=None, help="Plan title (French).")
@click.option("--accept-blocking", is_flag=True,
              help="Publish even with blocking findings (recorded with the version).")
@_with_layer_options
def import_plan(path: Path, name: str, zone_field: str, label_field: str | None, label_ar_field: str | None,
                approved: str | None, approval_act: str | None, title: str | None, accept_blocking: bool,
                layer: str | None, crs: str | None, encoding: str | None) -> None:
    """Check the zones in PATH as an upload is checked, then publish them as the new version of plan NAME."""
    from gisportal.publishing.import_checks import check_import, record_acceptance
    from gisportal.publishing.imports import import_plan as run

    store = configured_store()
    check = check_import(path, command="import-plan", kind="zones", settings=load_settings(), store=store,
                         layer=layer, zone_field=zone_field, crs=crs, encoding=encoding,
                         accept_blocking=accept_blocking)
    version, report = run(store, path, name=name, zone_field=zone_field, label_field=label_field,
                          label_ar_field=label_ar_field, layer=layer, crs=crs, encoding=encoding,
                          approved=optional_date(approved), approval_act=approval_act, title_fr=title,
                          origin=check.origin)
    record_acceptance(load_settings(), store, check, command="import-plan", plan=name, version=version.version)
    click.echo(f"plan {version.plan_name} version {version.version} published (origin {check.origin})", err=True)
    print_report(report)


@click.command("import-overlays")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--plan", required=True)
@click.option("--kind", default=None, help="One kind for every feature, e.g. road_widening.")
@click.option("--kind-field", default=None, help="Field holding each feature's kind.")
@click.option("--label-field", default=None)
@click.option("--accept-blocking", is_flag=True, help="Attach them even with blocking findings (logged).")
@_with_layer_options
def import_overlays(path: Path, plan: str, kind: str | None, kind_field: str | None, label_field: str | None,
                    accept_blocking: bool, layer: str | None, crs: str | None, encoding: str | None) -> None:
    """Check the servitudes in PATH as an upload is checked, then attach them to the current version of PLAN."""
    from gisportal.publishing.import_checks import check_import, record_acceptance
    from gisportal.publishing.imports import import_overlays as run

    store = configured_store()
    check = check_import(path, command="import-overlays", kind="overlays", settings=load_settings(), store=store,
                         layer=layer, crs=crs, encoding=encoding, accept_blocking=accept_blocking)
    if check.accepted:
        click.echo(f"blocking findings accepted: {check.accepted}", err=True)
    version, report = run(store, path, plan=plan, kind=kind, kind_field=kind_field, label_field=label_field,
                          layer=layer, crs=crs, encoding=encoding)
    record_acceptance(load_settings(), store, check, command="import-overlays", plan=plan, version=version.version)
    click.echo(f"overlays attached to {version.plan_name} version {version.version}", err=True)
    print_report(report)


@click.command("import-parcels")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--ref-field", required=True)
@click.option("--address-field", default=None)
@click.option("--quarter-field", default=None)
@_with_layer_options
def import_parcels(path: Path, ref_field: str, address_field: str | None, quarter_field: str | None,
                   layer: str | None, crs: str | None, encoding: str | None) -> None:
    """Insert or replace parcels from PATH, by land-title reference."""
    from gisportal.publishing.imports import import_parcels as run

    print_report(run(configured_store(), path, ref_field=ref_field, address_field=address_field,
                      quarter_field=quarter_field, layer=layer, crs=crs, encoding=encoding))


@click.command("write-tiles")
@click.option("--to", "directory", type=click.Path(path_type=Path), default=None,
              help="Directory of the archives (default GISPORTAL_TILES_DIR).")
def write_tiles(directory: Path | None) -> None:
    """Write the tiles of the versions in force as PMTiles archives, one per layer, for a static host."""
    from gisportal.zoning.archives import write_archives

    target = directory or load_settings().tiles_dir
    if target is None:
        raise click.UsageError("give --to DIRECTORY or set GISPORTAL_TILES_DIR")
    counts = write_archives(configured_store(), target)
    click.echo(json.dumps({"directory": str(target), "features": counts}))


@click.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--layer", default=None, help="Layer to check (GeoPackage, or a zip holding several shapefiles).")
@click.option("--zone-field", default=None, help="Field holding the zone codes (kind zones).")
@click.option("--crs", default=None, help="CRS of a file that declares none, e.g. EPSG:26191.")
@click.option("--encoding", default=None, help="Attribute encoding, e.g. cp1256 (default: the .cpg, else detected).")
@click.option("--kind", type=click.Choice(["zones", "overlays", "parcels"]), default="zones", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True)
def validate(path: Path, layer: str | None, zone_field: str | None, crs: str | None, encoding: str | None,
             kind: str, fmt: str) -> None:
    """Check a layer before publishing it: exit 1 when a finding blocks, 2 when the file is refused."""
    from gisportal.publishing.uploads import LOCAL_FILE_LIMITS, open_upload
    from gisportal.publishing.validation import instance_context, validate_upload

    context = instance_context(load_settings())
    with open_upload(path, limits=LOCAL_FILE_LIMITS) as intake:
        report = validate_upload(intake, layer=layer, zone_field=zone_field, crs=crs, encoding=encoding, kind=kind,
                                 **context)
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if fmt == "json" else report.to_text())
    if report.blocking:
        sys.exit(1)


IMPORT_COMMANDS = (import_plan, import_overlays, import_parcels, write_tiles, validate)
