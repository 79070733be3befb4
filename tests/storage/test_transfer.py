"""Moving an instance between backends (issue #4): ``gisportal import-all DIR`` and ``gisportal export DIR``.

The round trip embedded -> PostGIS -> embedded must keep everything: plans with every version (approval acts,
dates, publication times), zones, servitudes and parcels (each geometry to 1e-6 m), instance facts, and the
registry of issued notes (numbers, signatures, sealed PDFs), so that a PDF issued before the move still
verifies after it, on the new backend, with the keys that moved with it.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from support.instances import new_instance
from support.tiny import X0, Y0, build_tiny_store

from gisportal.cli.commands import main

TERRITORY = {"territory_fr": "Tanger test", "territory_ar": "طنجة اختبار", "territory_en": "Tangier test"}
REFS = ["TF-1001/06", "TF-1002/06", "TF-1003/06", "TF-1004/06", "TF-1005/06", "TF-1006/06", "TF-1007/06"]


def cli(instance, monkeypatch, *args, code=0):
    """Run the command line with ``instance`` named by the environment."""
    with monkeypatch.context() as mp:
        for name, value in instance.env.items():
            mp.setenv(name, value)
        result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def app_of(instance, rules_file):
    from gisportal.web import create_app

    return create_app({**instance.settings, "rules_file": rules_file, "TESTING": True})


def registry_of(instance):
    from gisportal.core.settings import load_settings
    from gisportal.note.registry import open_registry

    return open_registry(load_settings(instance.settings), instance.open_store())


def issue_pdf(client, ref, lang, **extra):
    response = client.get("/api/v1/notes", query_string={"ref": ref, "format": "pdf", "lang": lang, **extra})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.headers["X-Note-Number"], response.data


def notes_json(client):
    """The JSON note of every tiny parcel, the time it was made left out."""
    out = {}
    for ref in REFS:
        response = client.get("/api/v1/notes", query_string={"ref": ref})
        assert response.status_code == 200
        data = response.get_json()
        data.pop("generated_at")
        out[ref] = data
    return out


def _rows(frame, keys):
    """A layer's attribute rows (no ids) and geometries, in a stable order."""
    frame = frame.drop(columns=["version_id"], errors="ignore").copy()
    bounds = frame.geometry.bounds
    frame["_x"], frame["_y"] = bounds["minx"], bounds["miny"]
    frame = frame.sort_values(keys + ["_x", "_y"]).reset_index(drop=True)
    geoms = list(frame.geometry)
    attrs = [{k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in row.items()}
             for row in frame.drop(columns=[frame.geometry.name, "_x", "_y"]).to_dict("records")]
    return attrs, geoms


def assert_same_layer(a, b, keys):
    attrs_a, geoms_a = _rows(a, keys)
    attrs_b, geoms_b = _rows(b, keys)
    assert attrs_a == attrs_b
    assert len(geoms_a) == len(geoms_b) > 0
    for ga, gb in zip(geoms_a, geoms_b, strict=True):
        assert ga.equals_exact(gb, tolerance=1e-6), (ga.wkt, gb.wkt)


def assert_same_instance(a, b):
    """Two instances hold the same plans, versions, layers, facts and issued notes (database ids aside)."""
    sa, sb = a.open_store(), b.open_store()
    assert sa.counts() == sb.counts()
    assert sa.crs == sb.crs == "EPSG:26191"
    assert [(p.name, p.title_fr, p.title_ar) for p in sa.plans()] == [(p.name, p.title_fr, p.title_ar)
                                                                       for p in sb.plans()]

    def versions(store):
        return [(v.plan_name, v.version, v.approval_act, v.approval_date, v.effective_from, v.published_at)
                for v in store.plan_versions()]

    assert versions(sa) == versions(sb)
    assert {k: sa.meta().get(k) for k in TERRITORY} == {k: sb.meta().get(k) for k in TERRITORY} == TERRITORY
    for va, vb in zip(sa.plan_versions(), sb.plan_versions(), strict=True):
        assert_same_layer(sa.features("zones", [va.id], None), sb.features("zones", [vb.id], None), ["code"])
        assert_same_layer(sa.features("overlays", [va.id], None), sb.features("overlays", [vb.id], None), ["kind"])
    assert_same_layer(sa.features("parcels", None, None), sb.features("parcels", None, None), ["ref"])
    ra, rb = registry_of(a), registry_of(b)
    notes_a, notes_b = ra.search("", 1000), rb.search("", 1000)
    assert notes_a == notes_b  # numbers, payloads, hashes, key ids, signatures, issue times
    for note in notes_a:
        assert ra.pdf(note.number) == rb.pdf(note.number)


@pytest.fixture
def source(request, tiny_today, tiny_rules_file, tmp_path):
    """An embedded instance: the tiny territory, its names, and three issued notes (one historical) as PDFs."""
    instance = new_instance(request, "embedded", tmp_path / "source")
    build_tiny_store(instance.open_store(), tiny_today)
    instance.open_store().set_meta(TERRITORY)
    client = app_of(instance, tiny_rules_file).test_client()
    before_v2 = (tiny_today - timedelta(days=700 + 30)).isoformat()
    issued = [issue_pdf(client, "TF-1001/06", "fr"), issue_pdf(client, "TF-1003/06", "ar"),
              issue_pdf(client, "TF-1001/06", "fr", as_of=before_v2)]
    assert len({number for number, _ in issued}) == 3
    add_agency_data(instance, tmp_path, tiny_rules_file)
    return instance, issued


def agency_of(instance):
    from gisportal.core.settings import load_settings
    from gisportal.storage import open_agency

    return open_agency(load_settings(instance.settings), instance.open_store())


def add_agency_data(instance, tmp_path, rules_file):
    """An account, a draft with its file (kept under the data directory) and a rules version, each audit-logged."""
    from gisportal.core.accounts import Accounts
    from gisportal.core.audit import AuditLog
    from gisportal.publishing.drafts import Drafts
    from gisportal.zoning.rules import load_catalogue
    from gisportal.zoning.rulesbook import RulesBook, to_document

    agency = agency_of(instance)
    Accounts(agency, AuditLog(agency)).create("amina", "un-mot-de-passe-long", "planner", "Amina", actor="cli")
    layer = tmp_path / "draft.geojson"
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame({"ZONE": ["A"]}, geometry=[shapely.box(X0, Y0, X0 + 300, Y0 + 100)], crs="EPSG:26191") \
        .to_crs(4326).to_file(layer, driver="GeoJSON")
    store = instance.open_store()
    drafts = Drafts(agency, AuditLog(agency), store, load_catalogue(rules_file), instance.data_dir / "drafts")
    draft = drafts.create(layer, "draft.geojson", plan_name="tiny-plan", kind="zones", user="amina",
                          zone_field="ZONE")
    assert not draft.blocking and Path(draft.file_path).exists()
    book = RulesBook(agency, load_catalogue(rules_file))
    book.save(to_document(book.current()), user="amina", source="test", effective_from=date(2026, 1, 1),
              audit=AuditLog(agency))


def agency_rows(instance):
    """Every agency row of ``instance``, table by table (ids included), file paths made relative."""
    import sqlalchemy as sa

    from gisportal.cli.transfer import agency_tables
    from gisportal.core.agencydb import as_utc

    agency, root = agency_of(instance), str(instance.data_dir.resolve())

    def comparable(value):
        if isinstance(value, str):
            return value.replace(root, "<data>")
        return as_utc(value) if isinstance(value, datetime) else value

    out = {}
    with agency.read() as conn:
        for table in agency_tables():
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings().all()
            out[table.name] = [{k: comparable(v) for k, v in r.items()} for r in rows]
    return out


def test_embedded_to_postgis_to_embedded_keeps_everything(request, source, tiny_rules_file, tmp_path, monkeypatch):
    from gisportal.core.signing import KeyRing, verify_pdf

    first, issued = source
    first_notes = notes_json(app_of(first, tiny_rules_file).test_client())

    # embedded -> PostGIS
    pg = new_instance(request, "postgis", tmp_path / "pg")
    report = json.loads(cli(pg, monkeypatch, "import-all", first.data_dir).stdout)
    first_agency = agency_rows(first)
    assert {t: len(rows) for t, rows in first_agency.items() if rows} == {
        "gp_users": 1, "gp_audit_log": 3, "gp_drafts": 1, "gp_rules_catalogues": 1}
    assert report == {"plan_versions": 2, "zones": 4, "overlays": 4, "parcels": 7, "issued_notes": 3,
                      "agency_rows": 6}
    assert_same_instance(first, pg)
    assert agency_rows(pg) == first_agency  # ids, times, hashes; the draft's file path moved under pg's directory
    draft_file = agency_rows(pg)["gp_drafts"][0]["file_path"].replace("<data>", str(pg.data_dir.resolve()))
    assert (pg.data_dir / "drafts").is_dir() and pg.data_dir.resolve() in Path(draft_file).parents
    assert Path(draft_file).exists()
    from gisportal.core.accounts import Accounts

    assert Accounts(agency_of(pg)).authenticate("amina", "un-mot-de-passe-long").username == "amina"
    Accounts(agency_of(pg)).create("omar", "un-autre-mot-de-passe", "admin")  # ids go on after the copied ones
    assert [u.username for u in Accounts(agency_of(pg)).list()] == ["amina", "omar"]
    pg_client = app_of(pg, tiny_rules_file).test_client()
    assert notes_json(pg_client) == first_notes
    keyring = KeyRing(pg.data_dir / "keys")  # the keys came along
    for number, pdf in issued:
        assert verify_pdf(pdf, keyring).number == number  # a PDF issued before the move verifies after it
        token = registry_of(pg).get(number).signature[:16]
        state = pg_client.get(f"/api/v1/verify/{number}?t={token}").get_json()
        assert state["authentic"] is True and state["number"] == number
        page = pg_client.get(f"/verify/{number}?t={token}&lang=en")  # the QR code's link
        assert page.status_code == 200 and b"gp-authentic" in page.data
    old = issued[2][0]
    assert pg_client.get(f"/api/v1/verify/{old}?t={registry_of(pg).get(old).signature[:16]}").get_json()["historical"]
    again_number, again_pdf = issue_pdf(pg_client, "TF-1001/06", "fr")  # same content: the same note, same PDF
    assert (again_number, again_pdf) == issued[0]
    new_number, new_pdf = issue_pdf(pg_client, "TF-1002/06", "fr")  # numbering goes on after the moved notes
    year, seq = new_number.split("-")[1:]
    assert (year, int(seq)) == (issued[0][0].split("-")[1], 4)
    listed = cli(pg, monkeypatch, "registry").stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == [new_number] + [n for n, _ in reversed(issued)]

    # PostGIS -> embedded
    back = tmp_path / "back"
    report = json.loads(cli(pg, monkeypatch, "export", back).stdout)
    assert report == {"plan_versions": 2, "zones": 4, "overlays": 4, "parcels": 7, "issued_notes": 4,
                      "agency_rows": 8}  # omar and his audit entry
    last = new_instance(request, "embedded", back)
    names = {p.name for p in back.iterdir()}  # the notes are an agency table (issue #13): no registry.sqlite
    assert {"gisportal.gpkg", "keys", "agency.sqlite"} <= names and "registry.sqlite" not in names
    assert_same_instance(pg, last)
    assert agency_rows(last) == agency_rows(pg)
    assert Accounts(agency_of(last)).authenticate("omar", "un-autre-mot-de-passe").role == "admin"
    last_client = app_of(last, tiny_rules_file).test_client()
    assert notes_json(last_client) == first_notes
    for number, pdf in [*issued, (new_number, new_pdf)]:
        assert verify_pdf(pdf, KeyRing(back / "keys")).number == number
        token = last_client.application.extensions["gisportal"].registry.get(number).signature[:16]
        assert last_client.get(f"/api/v1/verify/{number}?t={token}").get_json()["authentic"] is True
    # and the first instance still equals the last one, old notes included
    first_store, last_store = first.open_store(), last.open_store()
    assert first_store.counts() == last_store.counts()
    assert [v.published_at for v in first_store.plan_versions()] == [v.published_at
                                                                    for v in last_store.plan_versions()]


def test_import_all_into_a_store_that_holds_data_is_refused(tiny_writable, tiny, tmp_path, monkeypatch):
    exported = tmp_path / "exported"
    cli(tiny_writable, monkeypatch, "export", exported)
    before, files = tiny_writable.snapshot(), sorted(p.name for p in tiny_writable.data_dir.iterdir())
    result = cli(tiny_writable, monkeypatch, "import-all", exported, code=2)
    assert result.stderr.startswith("error: ") and "already holds data" in result.stderr
    assert "Traceback" not in result.output
    assert tiny_writable.snapshot() == before
    assert sorted(p.name for p in tiny_writable.data_dir.iterdir()) == files
    assert tiny_writable.open_store().counts() == {"zones": 4, "overlays": 4, "parcels": 7, "plan_versions": 2}


def test_import_all_into_an_empty_store_with_issued_notes_is_refused(source, empty_instance, tiny_rules_file,
                                                                   monkeypatch):
    """An emptied store whose registry still holds notes: the notes' numbers would collide."""
    first, _ = source
    client = app_of(first, tiny_rules_file).test_client()
    issue_pdf(client, "TF-1004/06", "fr")
    target = empty_instance
    registry_of(target).copy_from(registry_of(first))  # the notes of an earlier life of the target
    before = target.snapshot() if target.backend == "postgis" else registry_of(target).search("", 100)
    result = cli(target, monkeypatch, "import-all", first.data_dir, code=2)
    assert result.stderr.startswith("error: ") and "issued notes" in result.stderr
    after = target.snapshot() if target.backend == "postgis" else registry_of(target).search("", 100)
    assert after == before
    assert target.open_store().counts() == {"zones": 0, "overlays": 0, "parcels": 0, "plan_versions": 0}


def test_import_all_from_a_directory_without_a_store(empty_instance, tmp_path, monkeypatch):
    (tmp_path / "nothing").mkdir()
    result = cli(empty_instance, monkeypatch, "import-all", tmp_path / "nothing", code=1)
    assert "holds no gisportal.gpkg" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("something")
    result = cli(empty_instance, monkeypatch, "export", tmp_path / "full", code=1)
    assert "is not empty" in result.output
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]


def test_import_all_into_an_instance_with_accounts_is_refused(source, empty_instance, monkeypatch):
    """Accounts made on the target before the import would clash with the copied ones: refused, nothing moved."""
    from gisportal.core.accounts import Accounts

    first, _ = source
    Accounts(agency_of(empty_instance)).create("already", "un-mot-de-passe-long", "admin")
    result = cli(empty_instance, monkeypatch, "import-all", first.data_dir, code=2)
    assert "agency tables already hold data" in result.stderr and "gp_users (1)" in result.stderr
    assert empty_instance.open_store().counts() == {"zones": 0, "overlays": 0, "parcels": 0, "plan_versions": 0}
    assert not (empty_instance.data_dir / "drafts").exists()


def _payments_app(instance, rules_file, **settings):
    """The app of ``instance`` for paying: no HMAC secret in its settings unless given (the generated file's)."""
    from gisportal.web import create_app

    return create_app({**instance.settings, "rules_file": rules_file, "TESTING": True,
                       "form_rate_limit": "1000 per minute", **settings})


def _a_payment_in_flight(source, rules_file):
    """An order on ``source`` whose payment the sandbox has authorised, and the callback it is about to post."""
    from support.payments import _order, _sandbox, _status

    client = _payments_app(source, rules_file).test_client()
    secret = (source.data_dir / "payment_hmac_secret").read_text().strip()  # generated by the app on start
    order = _order(client)
    callback = _sandbox(client, order, secret=secret)  # signed with the source's secret, checked by hand
    assert _status(client, order)["status"] == "pending"
    return order, callback, secret


def _mode(path):
    return path.stat().st_mode & 0o777


def test_a_payment_started_before_the_move_is_confirmed_after_it(request, backend, tiny_writable, tiny_rules_file,
                                                                 tmp_path, monkeypatch):
    """The generated payment HMAC secret moves with the keys: export + import-all, then the sandbox's callback of
    a payment started on the source is accepted by the target. The file stays 0600 and is never printed."""
    from support.payments import _status

    order, callback, secret = _a_payment_in_flight(tiny_writable, tiny_rules_file)
    assert _mode(tiny_writable.data_dir / "payment_hmac_secret") == 0o600
    exported = tmp_path / "exported"
    outputs = [cli(tiny_writable, monkeypatch, "export", exported).output]
    assert (exported / "payment_hmac_secret").read_text() == secret
    assert _mode(exported / "payment_hmac_secret") == 0o600

    target = new_instance(request, backend, tmp_path / "target")
    _payments_app(target, tiny_rules_file)  # the target was started once before the move: it made a secret of its own
    assert (target.data_dir / "payment_hmac_secret").read_text() != secret
    outputs.append(cli(target, monkeypatch, "import-all", exported).output)
    assert (target.data_dir / "payment_hmac_secret").read_text() == secret
    assert _mode(target.data_dir / "payment_hmac_secret") == 0o600
    assert not [p.name for p in target.data_dir.iterdir() if p.name.startswith(".payment_hmac_secret")]
    assert all(secret not in output for output in outputs)

    app = _payments_app(target, tiny_rules_file)
    source_key = (tiny_writable.data_dir / "secret_key").read_text().strip()  # the app's own, made on start
    assert app.config["SECRET_KEY"] == source_key and _mode(target.data_dir / "secret_key") == 0o600
    assert all(source_key not in output for output in outputs)  # links signed before the move still verify
    client = app.test_client()
    answer = client.post("/payments/callback/sandbox", data=callback)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    status = _status(client, order)  # the order's access code came along with its row
    assert status["status"] == "paid"
    assert [(p["status"], p["amount"], p["transaction_id"]) for p in status["payments"]] == [
        ("authorised", 22000, callback["transaction"])]
    forged = {**callback, "transaction": "SBX-FORGED", "signature": "0" * 64}
    assert client.post("/payments/callback/sandbox", data=forged).status_code == 400


def test_a_payment_secret_set_on_the_target_wins_and_is_not_overwritten(request, backend, tiny_writable,
                                                                         tiny_rules_file, tmp_path, monkeypatch,
                                                                         caplog):
    """GISPORTAL_PAYMENT_HMAC_SECRET set on the target: import-all leaves it (and the target's files) alone and
    says that callbacks signed with the source's secret will be refused, without showing either secret."""
    from support.payments import _sign, _status

    order, callback, secret = _a_payment_in_flight(tiny_writable, tiny_rules_file)
    exported = tmp_path / "exported"
    cli(tiny_writable, monkeypatch, "export", exported)
    target = new_instance(request, backend, tmp_path / "target")
    configured = "the-target-s-own-configured-secret"
    monkeypatch.setenv("GISPORTAL_PAYMENT_HMAC_SECRET", configured)
    with caplog.at_level("WARNING", logger="gisportal.cli.transfer"):
        output = cli(target, monkeypatch, "import-all", exported).output
    assert not (target.data_dir / "payment_hmac_secret").exists()
    warned = [r.getMessage() for r in caplog.records if r.name == "gisportal.cli.transfer"]
    assert len(warned) == 1 and "will be refused" in warned[0]
    assert all(secret not in text and configured not in text for text in [output, *warned])

    client = _payments_app(target, tiny_rules_file, payment_hmac_secret=configured).test_client()
    assert client.post("/payments/callback/sandbox", data=callback).status_code == 400
    assert _status(client, order)["status"] == "pending"
    resigned = {**callback, "signature": _sign(callback, configured)}  # what the target's provider would send
    assert client.post("/payments/callback/sandbox", data=resigned).status_code == 303
    assert _status(client, order)["status"] == "paid"
