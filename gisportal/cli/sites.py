"""The site note on the command line: ``gisportal site-note (--refs R1,R2… | --file SITE.geojson)``.

Registered on :data:`gisportal.cli.commands.main`; the same checks and the same numbered, sealed PDF as the web.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from gisportal.cli.options import optional_date, write_pdf
from gisportal.core.vectors import read_vector_layer
from gisportal.sites.render import site_to_dict

logger = logging.getLogger(__name__)


@click.command("site-note")
@click.option("--refs", default=None, help="Land-title references separated by commas.")
@click.option("--file", "site_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The site's outline: GeoJSON (WGS84 or a 'crs' member), KML or zipped shapefile.")
@click.option("--as-of", default=None, help="Rules in force on this date (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["json", "pdf"]), default="json", show_default=True)
@click.option("--lang", default="fr", show_default=True, help="fr, ar, en; for PDF also 'both'.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (required for PDF unless stdout is redirected).")
def site_note(refs: str | None, site_file: Path | None, as_of: str | None, fmt: str, lang: str,
              output: Path | None) -> None:
    """Print or save the note of a site: several parcels or an outline (PDF: numbered and signed)."""
    # The web layer: the app's store, catalogue, registry and templates (imported when the command runs).
    from gisportal.web import create_app, portal
    from gisportal.web.note.documents import pdf_language
    from gisportal.web.sites import build, parse_refs, site_from_body, site_from_frame, site_limits, site_pdf_response

    if (refs is None) == (site_file is None):
        raise click.UsageError("give --refs R1,R2… or --file SITE.geojson")
    app = create_app()
    with app.test_request_context(f"/?lang={'fr' if lang == 'both' else lang}"):
        if refs is not None:
            site = site_from_body({"refs": parse_refs(refs)})
        elif site_file is None:  # excluded above: one of the two is given
            raise click.UsageError("give --refs R1,R2… or --file SITE.geojson")
        elif site_file.suffix.lower() in (".geojson", ".json"):
            site = site_from_body({"geometry": json.loads(site_file.read_text(encoding="utf-8"))})
        else:
            site = site_from_frame(portal().store, read_vector_layer(site_file), site_limits())
        note = build(site, optional_date(as_of))
        if fmt == "pdf":
            response = site_pdf_response(note, pdf_language(lang))
            write_pdf(response.get_data(), response.headers["X-Note-Number"], output)
            return
        text = json.dumps(site_to_dict(note, portal().catalogue_for(note.as_of), lang if lang != "both" else "fr"),
                          ensure_ascii=False, indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")


#: Added to the ``gisportal`` command by :mod:`gisportal.cli.commands`.
SITES_COMMANDS = (site_note,)
