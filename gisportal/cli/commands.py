"""The ``gisportal`` command: serve, build the demo, import layers, print notes."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from gisportal.cli.imports import IMPORT_COMMANDS
from gisportal.cli.names import NAMES_COMMANDS
from gisportal.cli.options import optional_date, write_pdf
from gisportal.cli.planning import PLANNING_COMMANDS
from gisportal.cli.sites import SITES_COMMANDS
from gisportal.core.errors import GisportalError
from gisportal.core.settings import load_settings

logger = logging.getLogger(__name__)


class _Group(click.Group):
    """Prints domain errors as one clear line and exits 2, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GisportalError as exc:
            click.echo(f"error: {exc.message}", err=True)
            report = exc.details.get("report")
            if report:
                click.echo(json.dumps(report, ensure_ascii=False, indent=2), err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="Log progress.")
def main(verbose: bool) -> None:
    """gisportal: zoning maps and urban-information notes for an urban agency."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker (gthread): slow clients hold a thread, not a worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the portal with gunicorn (data loaded once, shared by the workers)."""
    from gisportal.cli.serving import Server
    from gisportal.web import create_app

    # Absolute URLs (QR codes, links in e-mails) come from configuration, never from a request's Host: without
    # GISPORTAL_PUBLIC_URL, the address served here is the public one (set it behind a proxy).
    if host not in ("0.0.0.0", "::", ""):  # a wildcard bind names no address: set GISPORTAL_PUBLIC_URL then
        os.environ.setdefault("GISPORTAL_PUBLIC_URL", f"http://{host}:{port}")
    click.echo(f"gisportal on http://{host}:{port} (public URL {os.environ.get('GISPORTAL_PUBLIC_URL', 'unset')})")
    Server(create_app, host, port, workers, threads).run()


@main.command()
@click.option("--parcels", "n_parcels", default=6000, show_default=True, type=click.IntRange(10, 10_000_000),
              help="About this many parcels (embedded store: 5,000,000 at most; PostGIS: streamed from 200,000).")
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--force", is_flag=True, help="Replace an existing store.")
def demo(n_parcels: int, seed: int, force: bool) -> None:
    """Build the demo district of Tangier (EPSG:26191) into the data directory."""
    from gisportal.demo.load import load_demo
    from gisportal.demo.national import STREAM_FROM, load_national_demo
    from gisportal.storage import backend_name, open_store
    from gisportal.storage.postgis.store import PostgisStore

    settings = load_settings()
    if backend_name(settings) == "embedded" and n_parcels > 5_000_000:
        raise click.ClickException("the embedded store holds 5,000,000 demo parcels at most; use PostGIS for more.")
    if backend_name(settings) == "embedded" and settings.store_path.exists():
        if not force:
            raise click.ClickException(f"{settings.store_path} exists; use --force to rebuild it.")
        settings.store_path.unlink()
    store = open_store(settings)
    if store.counts().get("parcels") or store.plan_versions():
        if not force:
            raise click.ClickException("the database already holds data; use --force to replace it.")
        store.clear()
    if isinstance(store, PostgisStore) and n_parcels >= STREAM_FROM:  # the same city, streamed a chunk at a time
        counts = load_national_demo(store, n_parcels=n_parcels, seed=seed)
    else:
        counts = load_demo(store, n_parcels=n_parcels, seed=seed)
    from gisportal.demo.load import load_demo_library

    counts["documents"] = load_demo_library(settings, store)
    click.echo(json.dumps(counts))


@main.command()
@click.option("--parcel", "ref", default=None, help="Land-title reference.")
@click.option("--lon", type=float, default=None)
@click.option("--lat", type=float, default=None)
@click.option("--as-of", default=None, help="Rules in force on this date (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["json", "html", "pdf"]), default="json", show_default=True)
@click.option("--lang", default="fr", show_default=True, help="fr, ar, en; for PDF also 'both'.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (required for PDF unless stdout is redirected).")
def note(ref: str | None, lon: float | None, lat: float | None, as_of: str | None, fmt: str, lang: str,
         output: Path | None) -> None:
    """Print or save the urban-information note of a parcel (PDF: numbered and signed)."""
    from gisportal.web import create_app
    from gisportal.web.api import note_view_data

    if ref is None and (lon is None or lat is None):
        raise click.UsageError("give --parcel REF, or --lon X --lat Y")
    app = create_app()
    ui_lang = "fr" if lang == "both" else lang
    with app.test_request_context(f"/?lang={ui_lang}"):
        args = {"ref": ref, "lon": lon, "lat": lat, "as_of": optional_date(as_of)}
        data_note, data = note_view_data(args)
        if fmt == "pdf":
            from gisportal.web.note.documents import pdf_language, pdf_response

            response = pdf_response(data_note, pdf_language(lang))
            write_pdf(response.get_data(), response.headers["X-Note-Number"], output)
            return
        if fmt == "json":
            text = json.dumps(data, ensure_ascii=False, indent=2)
        else:
            from flask import render_template

            text = render_template("note/note.html", note=data_note, data=data)
        if output is None:
            click.echo(text)
        else:
            output.write_text(text, encoding="utf-8")


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of public keys (*.pub.pem); default: the instance's keys.")
def verify(path: Path, keys_dir: Path | None) -> None:
    """Check a note PDF offline: exit 0 and print its number if authentic."""
    from gisportal.core.signing import KeyRing, NotAuthentic, verify_pdf

    keyring = KeyRing(keys_dir or load_settings().data_dir / "keys")
    try:
        seal = verify_pdf(path.read_bytes(), keyring)
    except NotAuthentic as exc:
        click.echo(f"NOT AUTHENTIC: {exc.message}", err=True)
        sys.exit(1)
    click.echo(seal.number)


@main.group()
def keys() -> None:
    """Signing keys of this instance."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Start signing with a new key; notes signed with older keys stay verifiable."""
    from gisportal.core.signing import KeyRing

    click.echo(KeyRing(load_settings().data_dir / "keys").rotate())


@keys.command("list")
def keys_list() -> None:
    """Print the public keys (id and PEM)."""
    from gisportal.core.signing import KeyRing

    for kid, pem in KeyRing(load_settings().data_dir / "keys").public_keys().items():
        click.echo(f"{kid}\n{pem}")


@main.command()
@click.option("-q", "--query", "text", default="", help="Part of a note number or parcel reference.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
def registry(text: str, limit: int) -> None:
    """List issued notes, newest first (tab-separated)."""
    from gisportal.note.registry import open_registry
    from gisportal.storage import open_store

    settings = load_settings()
    for n in open_registry(settings, open_store(settings)).search(text, limit):
        plans = ",".join(f"{p['name']}@v{p['version']}" for p in n.plan_versions)
        click.echo(f"{n.number}\t{n.issued_at.isoformat()}\t{n.parcel_ref}\t{n.lang}\t{n.as_of}\t{plans}")


@main.command("export")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
def export_instance(target: Path) -> None:
    """Copy this instance (plans with history, parcels, issued notes, keys and secrets, agency tables and files)
    into a new embedded data directory."""
    from gisportal.cli.transfer import SECRET_FILES, carry_keys, check_agency_empty, copy_agency, copy_instance
    from gisportal.note.registry import open_registry
    from gisportal.storage import open_agency, open_store

    settings = load_settings()
    if target.exists() and any(target.iterdir()):
        raise click.ClickException(f"{target} is not empty.")
    source = open_store(settings)
    out = load_settings({"data_dir": target, "storage": "embedded", "database_url": None, "crs": source.crs})
    out_store = open_store(out)
    target_agency = open_agency(out, out_store)
    check_agency_empty(target_agency)
    report = copy_instance(source, out_store, open_registry(settings, source), open_registry(out, out_store))
    rows = copy_agency(open_agency(settings, source), target_agency, settings.data_dir, target)
    carry_keys(settings.data_dir, target)
    for name, setting, refused in SECRET_FILES:
        if getattr(settings, name):
            logger.warning("%s is set here and is not exported: set the same on the target, or %s will be "
                           "refused there", setting, refused)
    click.echo(json.dumps({**report.__dict__, "agency_rows": rows}))


@main.command("import-all")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_all(source: Path) -> None:
    """Load an exported (embedded) data directory into this empty instance, e.g. into PostGIS."""
    from gisportal.cli.transfer import carry_keys, check_agency_empty, copy_agency, copy_instance
    from gisportal.note.registry import open_registry
    from gisportal.storage import open_agency, open_store

    settings = load_settings()
    src = load_settings({"data_dir": source, "storage": "embedded", "database_url": None})
    if not src.store_path.exists():
        raise click.ClickException(f"{source} holds no gisportal.gpkg.")
    source_store = open_store(src)
    target = open_store(load_settings({"crs": settings.crs or source_store.crs}))
    target_agency = open_agency(settings, target)
    check_agency_empty(target_agency)
    report = copy_instance(source_store, target, open_registry(src, source_store), open_registry(settings, target))
    rows = copy_agency(open_agency(src, source_store), target_agency, source, settings.data_dir)
    carry_keys(source, settings.data_dir, settings.payment_hmac_secret, settings.secret_key)
    click.echo(json.dumps({**report.__dict__, "agency_rows": rows}))


# --- agency accounts -----------------------------------------------------------------------------------------


def _accounts():
    from gisportal.core.accounts import Accounts
    from gisportal.storage import open_agency

    return Accounts(open_agency(load_settings()))


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (containers)
        return "cli"


def _read_password() -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin (never an argument)."""
    stdin = sys.stdin
    if stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt="Password again")
    line = stdin.readline()
    if not line:
        raise click.ClickException("no password on stdin (give it as the first line).")
    return line.rstrip("\r\n")


@main.group()
def user() -> None:
    """Agency accounts (planners and administrators) who sign in at /login."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["staff", "planner", "admin"]), required=True,
              help="staff: citizen services; planner: also plans and rules; admin: also accounts, fees, audit.")
@click.option("--name", "display_name", default="", help="Display name, e.g. \"Amina El Idrissi\".")
def user_add(username: str, role: str, display_name: str) -> None:
    """Create an account; the password is read from stdin or prompted twice."""
    created = _accounts().create(username, _read_password(), role, display_name, actor=_cli_actor())
    click.echo(f"user {created.username} ({created.role}) created")


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable an account: it can no longer sign in, and its open sessions end."""
    click.echo(f"user {_accounts().set_active(username, False, actor=_cli_actor()).username} disabled")


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Enable a disabled account again."""
    click.echo(f"user {_accounts().set_active(username, True, actor=_cli_actor()).username} enabled")


@user.command("password")
@click.argument("username")
def user_password(username: str) -> None:
    """Set a new password (read from stdin or prompted twice); the user's open sessions end."""
    accounts = _accounts()
    accounts.require(username)
    click.echo(f"password of {accounts.set_password(username, _read_password(), actor=_cli_actor()).username} "
               "changed")


@user.command("list")
def user_list() -> None:
    """List the accounts (tab-separated: name, role, status, last sign-in, display name)."""
    for u in _accounts().list():
        last = u.last_login_at.isoformat() if u.last_login_at else "-"
        click.echo(f"{u.username}\t{u.role}\t{'active' if u.active else 'disabled'}\t{last}\t{u.display_name}")

# The planners' commands (upload, publish, rollback, drafts) and the site note, from their modules.
for _command in (*IMPORT_COMMANDS, *PLANNING_COMMANDS, *SITES_COMMANDS, *NAMES_COMMANDS):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
