"""Issue #5 (in progress): drafts, impact preview, versioned publication, roll-back, planner pages."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gisportal.core.errors import InvalidInput
from gisportal.publishing.impact import preview_impact
from gisportal.publishing.publication import publish_overlays, publish_zones, roll_back
from gisportal.storage.base import NewPlanVersion
from gisportal.storage.embedded.store import EmbeddedStore

CRS = "EPSG:26191"
X0, Y0 = 460000.0, 570000.0


def box(a: float, b: float, c: float, d: float) -> shapely.Polygon:
    return shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d)


def zones(rows: list[tuple[str, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [c for c, _ in rows], "label_fr": [f"Zone {c}" for c, _ in rows],
                             "label_ar": [f"المنطقة {c}" for c, _ in rows]},
                            geometry=[box(*b) for _, b in rows], crs=CRS)


def overlays(rows: list[tuple[str, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind": [k for k, _ in rows], "label_fr": ["x"] * len(rows), "label_ar": ["س"] * len(rows),
                             "provision_fr": [""] * len(rows), "provision_ar": [""] * len(rows),
                             "max_height_m": [float("nan")] * len(rows)},
                            geometry=[box(*b) for _, b in rows], crs=CRS)


@pytest.fixture
def plan_store(tmp_path: Path) -> EmbeddedStore:
    """Plan 'p' v1: zone A on x 0..100, B on 100..200; a road widening; parcels 1..3."""
    store = EmbeddedStore(tmp_path / "gisportal.gpkg")
    store.put_parcels(gpd.GeoDataFrame(
        {"ref": ["TF-1/1", "TF-2/1", "TF-3/1"], "address": ["", "", ""], "quarter": ["Q", "Q", "Q"]},
        geometry=[box(10, 10, 30, 30), box(90, 10, 110, 30), box(150, 10, 170, 30)], crs=CRS))
    store.publish_plan_version(NewPlanVersion("p", "Plan", "خطة", "Décret 1", date(2015, 1, 1), date(2015, 1, 1)),
                               zones([("A", (0, 0, 100, 100)), ("B", (100, 0, 200, 100))]),
                               overlays([("road_widening", (0, 0, 200, 5)), ("heritage", (0, 90, 200, 100))]))
    return store


def test_impact_lists_exactly_the_parcels_that_change(plan_store):
    # the draft moves the A/B border from x=100 to x=95: TF-2/1 goes from 50/50 to 25 % A / 75 % B
    report = preview_impact(plan_store, "p", zones([("A", (0, 0, 95, 100)), ("B", (95, 0, 200, 100))]))
    assert report.parcels_compared == 3
    assert [c.ref for c in report.changes] == ["TF-2/1"]
    change = report.changes[0]
    assert change.before == {"A": 0.5, "B": 0.5} and change.after == {"A": 0.25, "B": 0.75}
    assert change.change == "reshaped"
    # rezoning B to C changes TF-2/1 (half) and TF-3/1 (whole)
    report = preview_impact(plan_store, "p", zones([("A", (0, 0, 100, 100)), ("C", (100, 0, 200, 100))]))
    assert {c.ref: c.change for c in report.changes} == {"TF-2/1": "rezoned", "TF-3/1": "rezoned"}
    assert report.to_csv().splitlines()[0] == "ref,change,before,after"


def test_publish_zones_keeps_servitudes_and_history(plan_store):
    v2 = publish_zones(plan_store, "p", zones([("A", (0, 0, 200, 100))]), approval_act="Décret 2",
                       approved=date(2024, 1, 1))
    assert v2.version == 2
    assert sorted(plan_store.features("overlays", [v2.id], None)["kind"]) == ["heritage", "road_widening"]
    v1 = next(v for v in plan_store.plan_versions() if v.version == 1)
    assert sorted(plan_store.features("zones", [v1.id], None)["code"]) == ["A", "B"]  # never edited in place
    with pytest.raises(InvalidInput):
        publish_zones(plan_store, "p", zones([("A", (0, 0, 200, 100))]), approval_act=" ", approved=date(2024, 1, 1))


def test_publish_overlays_replaces_only_the_uploaded_kinds(plan_store):
    v2 = publish_overlays(plan_store, "p", overlays([("road_widening", (0, 0, 200, 10))]), approval_act="Arrêté",
                          approved=date(2024, 1, 1))
    frame = plan_store.features("overlays", [v2.id], None)
    assert sorted(frame["kind"]) == ["heritage", "road_widening"]
    widening = frame[frame["kind"] == "road_widening"].geometry.iloc[0]
    assert widening.area == pytest.approx(200 * 10)


def test_roll_back_republishes_an_old_version(plan_store):
    publish_zones(plan_store, "p", zones([("C", (0, 0, 200, 100))]), approval_act="Décret 2", approved=date(2024, 1, 1))
    v3 = roll_back(plan_store, "p", 1, approval_act="Annulation", approved=date(2025, 1, 1))
    assert v3.version == 3
    assert sorted(plan_store.features("zones", [v3.id], None)["code"]) == ["A", "B"]
    assert [v.version for v in plan_store.plan_versions()] == [1, 2, 3]


@pytest.fixture
def planner_client(tmp_path: Path, plan_store):
    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    app = create_app({"data_dir": tmp_path, "crs": CRS})
    Accounts(app.extensions["gisportal"].agency).create("amina", "un-mot-de-passe-long", "planner")
    client = app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "amina", "password": "un-mot-de-passe-long",
                                       "csrf_token": token}).status_code in (302, 303)
    return client


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def _upload(client, path: Path, **fields):
    token = _token(client.get("/admin/upload").get_data(as_text=True))
    data = {"csrf_token": token, "plan_name": "p", "kind": "zones", "preset": "", **fields,
            "file": (open(path, "rb"), path.name)}
    return client.post("/admin/upload", data=data, content_type="multipart/form-data")


def test_planner_uploads_previews_and_publishes(planner_client, tmp_path):
    draft_file = tmp_path / "draft.geojson"
    zones([("A", (0, 0, 95, 100)), ("B", (95, 0, 200, 100))]).rename(columns={"code": "ZONE"}).to_crs(4326) \
        .to_file(draft_file, driver="GeoJSON")
    response = _upload(planner_client, draft_file, zone_field="ZONE", label_field="label_fr")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = planner_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-blocking="false"' in page
    assert page.count("gp-impact-row") == 1 and "TF-2/1" in page
    english = planner_client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "Parcels that would change" in english and "TF-2/1: shares changed" in english  # on the map
    draft_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert "TF-2/1" in planner_client.get(f"/admin/drafts/{draft_id}/impact.csv").get_data(as_text=True)
    published = planner_client.post(f"/admin/drafts/{draft_id}/publish", data={
        "csrf_token": _token(page), "approval_act": "Décret 2-26-7", "approved": "2026-01-15"})
    assert published.status_code == 302
    versions = planner_client.get("/admin/versions").get_data(as_text=True)
    assert versions.count("gp-version-row") == 2
    note = planner_client.get("/api/v1/notes?ref=TF-2/1").get_json()
    assert {z["code"]: z["share"] for z in note["zones"]} == {"A": 0.25, "B": 0.75}


def test_blocking_upload_cannot_be_published(planner_client, tmp_path):
    overlapping = tmp_path / "overlap.geojson"
    zones([("A", (0, 0, 120, 100)), ("B", (100, 0, 200, 100))]).to_crs(4326).to_file(overlapping, driver="GeoJSON")
    response = _upload(planner_client, overlapping, zone_field="code")
    page = planner_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-blocking="true"' in page and 'data-code="zone_overlap"' in page
    assert re.search(r"Features \d+ \(zone A\) and \d+ \(zone B\) overlap over 2,000(\.0)? m", page)
    # told again in the page's language from the finding's facts; the English message kept as technical detail
    french = planner_client.get(response.headers["Location"] + "?lang=fr").get_data(as_text=True)
    told = re.search(r"Les entités (\d+) et (\d+) se chevauchent sur 2[\s\u202f\u00a0]000 m²", french)
    assert told and told.group(1) != told.group(2) and "Détail technique" in french
    arabic = planner_client.get(response.headers["Location"] + "?lang=ar").get_data(as_text=True)
    assert "يتداخل العنصران" in arabic and "overlap over" in arabic  # the detail stays, in English
    draft_id = int(response.headers["Location"].rsplit("/", 1)[1])
    refused = planner_client.post(f"/admin/drafts/{draft_id}/publish", data={
        "csrf_token": _token(page), "approval_act": "Décret", "approved": "2026-01-15"})
    assert refused.status_code == 409
    assert planner_client.get("/api/v1/plans").get_json()["plans"][0]["version"] == 1


def test_hostile_upload_is_refused_and_nothing_kept(planner_client, tmp_path):
    fake = tmp_path / "plan.zip"
    fake.write_bytes(b"this is not a zip archive")
    response = _upload(planner_client, fake, zone_field="code")
    assert response.status_code in (400, 422) and "gp-upload-problem" in response.get_data(as_text=True)
    assert not list((tmp_path / "drafts").glob("*")) if (tmp_path / "drafts").exists() else True


def test_anonymous_users_cannot_reach_planner_pages(tmp_path, plan_store):
    from gisportal.web import create_app

    client = create_app({"data_dir": tmp_path}).test_client()
    assert client.get("/admin/upload").status_code in (302, 303)
    assert client.get("/api/v1/drafts/1").status_code == 401


def test_api_upload_and_publish(planner_client, tmp_path):
    me = planner_client.get("/api/v1/me").get_json()
    headers = {"X-CSRFToken": me["csrf_token"]}
    draft_file = tmp_path / "api.geojson"
    zones([("A", (0, 0, 95, 100)), ("B", (95, 0, 200, 100))]).to_crs(4326).to_file(draft_file, driver="GeoJSON")
    without_token = planner_client.post("/api/v1/drafts", data={"plan_name": "p", "kind": "zones", "zone_field": "code",
                                                                "file": (open(draft_file, "rb"), "a.geojson")},
                                        content_type="multipart/form-data")
    assert without_token.status_code == 400
    created = planner_client.post("/api/v1/drafts", headers=headers, content_type="multipart/form-data",
                                  data={"plan_name": "p", "kind": "zones", "zone_field": "code",
                                        "file": (open(draft_file, "rb"), "a.geojson")})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["blocking"] is False and body["impact"]["parcels_changed"] == 1
    bad = planner_client.post(f"/api/v1/drafts/{body['id']}/publish", headers=headers, json={"approved": "soon"})
    assert bad.status_code == 400
    done = planner_client.post(f"/api/v1/drafts/{body['id']}/publish", headers=headers,
                               json={"approval_act": "Décret API", "approved": "2026-02-01"})
    assert done.status_code == 201 and done.get_json()["version"] == 2
    again = planner_client.post(f"/api/v1/drafts/{body['id']}/publish", headers=headers,
                                json={"approval_act": "Décret API", "approved": "2026-02-01"})
    assert again.status_code == 409


def test_rules_edited_by_form_are_versioned_and_used_by_notes(planner_client, tmp_path):
    page = planner_client.get("/admin/rules/zone/A").get_data(as_text=True)
    token = _token(page)
    base = {"csrf_token": token, "label_fr": "Zone A", "label_ar": "المنطقة أ", "color": "#aa0000",
            "allowed_uses": "housing", "forbidden_uses": "industry", "max_height_m": "15", "max_floors": "3"}
    bad = planner_client.post("/admin/rules/zone/A", data={**base, "cos": "0.2", "ces": "0.5"})
    assert bad.status_code == 400 and "COS" in bad.get_data(as_text=True)  # COS smaller than CES is refused
    assert planner_client.get("/api/v1/notes?ref=TF-1/1").get_json()["zones"][0]["rules"] is None  # no rules yet
    tomorrow = date.fromordinal(date.today().toordinal() + 1).isoformat()
    saved = planner_client.post("/admin/rules/zone/A", data={**base, "cos": "1.4", "ces": "0.35",
                                                              "effective_from": tomorrow})
    assert saved.status_code == 302
    note_today = planner_client.get("/api/v1/notes?ref=TF-1/1").get_json()
    assert note_today["zones"][0]["rules"] is None  # the new rules are not in force yet
    note_later = planner_client.get(f"/api/v1/notes?ref=TF-1/1&as_of={tomorrow}").get_json()
    assert note_later["zones"][0]["rules"]["cos"] == 1.4
    assert note_later["buildability"]["max_floor_area_m2"] == pytest.approx(1.4 * 400)
    assert planner_client.get("/admin/rules").get_data(as_text=True).count("gp-rules-version") == 1


def test_rules_can_take_effect_with_a_plan_version(planner_client):
    """Rules saved "with the plan version" take that version's effective date, and the note says which."""
    from gisportal.publishing.publication import publish_zones

    effective = date.fromordinal(date.today().toordinal() + 30)
    v2 = publish_zones(planner_client.application.extensions["gisportal"].store, "p", zones([("A", (0, 0, 200, 100))]),
                       approval_act="Décret 2",
                       approved=date.today(), effective=effective)
    page = planner_client.get("/admin/rules/zone/A").get_data(as_text=True)
    assert f'<option value="{v2.id}">p v2' in page
    base = {"csrf_token": _token(page), "label_fr": "Zone A", "label_ar": "المنطقة أ", "color": "#aa0000",
            "allowed_uses": "housing", "cos": "1.2", "ces": "0.4", "max_height_m": "12", "max_floors": "3"}
    saved = planner_client.post("/admin/rules/zone/A", data={**base, "with_version": str(v2.id),
                                                              "effective_from": "2001-01-01", "note": "PA 2"})
    assert saved.status_code == 302
    assert planner_client.get("/admin/rules").get_data(as_text=True).count("gp-rules-version") == 1
    [version] = planner_client.application.extensions["gisportal"].rules.versions()
    assert version.effective_from == effective and version.note == "p v2 — PA 2"  # the plan's date won
    as_of = effective.isoformat()
    assert planner_client.get(f"/api/v1/notes?ref=TF-2/1&as_of={as_of}").get_json()["zones"][0]["rules"]["cos"] == 1.2
    unknown = planner_client.post("/admin/rules/zone/A", data={**base, "with_version": "999999"})
    assert unknown.status_code == 400 and len(planner_client.application.extensions["gisportal"].rules.versions()) == 1


def test_rules_csv_round_trip_and_bad_import(planner_client, tmp_path):
    import io

    csv_text = planner_client.get("/admin/rules.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("code,label_fr,label_ar")
    token = _token(planner_client.get("/admin/rules").get_data(as_text=True))
    edited = csv_text.replace(",0.25,", ",0.3,", 1)
    ok = planner_client.post("/admin/rules/import", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(edited.encode()), "rules.csv")})
    assert ok.status_code == 302
    page = planner_client.get("/admin/rules").get_data(as_text=True)
    assert page.count("gp-rules-version") == 1
    bad_yaml = b"zones:\n  A:\n    label: {fr: A, ar: \xd8\xa3}\n    ces: 1.5\n"
    refused = planner_client.post("/admin/rules/import", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(bad_yaml), "rules.yaml")}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "ces" in text and text.count("gp-rules-version") == 1  # refused, nothing stored
    yaml_out = planner_client.get("/admin/rules.yaml").get_data(as_text=True)
    assert "zones:" in yaml_out


def test_findings_told_from_their_facts_or_in_english_when_they_do_not_fit():
    from flask import Flask
    from flask_babel import Babel

    from gisportal.web.publishing.findings import tell_finding

    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        gap = {"severity": "warning", "code": "zone_gap", "message": "There is a gap of 12.5 m²...",
               "details": {"area_m2": 12.5}}
        assert tell_finding(gap) == "There is a gap of 12.5 m² inside the plan's perimeter that no zone covers."
        older = {"severity": "warning", "code": "zone_gap", "message": "a report stored before", "details": {}}
        assert tell_finding(older) == "a report stored before"
        partly = {"severity": "warning", "code": "outside_territory", "feature_id": 7, "message": "",
                  "details": {"area_outside_m2": 3}}
        assert tell_finding(partly) == "Feature 7 lies partly outside the agency's territory (3 m² outside)."


def test_publication_listeners_wait_for_the_deferring_block(plan_store):
    """Inside ``deferred_announcements`` (a draft being marked published) listeners are called when the block
    ends, after the caller's transaction, and still called when the block fails after publishing."""
    from gisportal.publishing.publication import PUBLISH_LISTENERS, deferred_announcements

    heard: list[tuple[int | None, int]] = []

    def listener(store, previous, version):
        heard.append((previous.version if previous else None, version.version))

    PUBLISH_LISTENERS.append(listener)
    try:
        with deferred_announcements():
            publish_zones(plan_store, "p", zones([("C", (0, 0, 200, 100))]), approval_act="Décret 2",
                          approved=date(2024, 1, 1))
            assert heard == []  # not yet: the caller's transaction is still open
        assert heard == [(1, 2)]
        with pytest.raises(RuntimeError), deferred_announcements():
            roll_back(plan_store, "p", 1, approval_act="Annulation", approved=date(2025, 1, 1))
            raise RuntimeError("marking the draft failed")
        assert heard == [(1, 2), (2, 3)]  # version 3 is published: its subscribers are told
        publish_zones(plan_store, "p", zones([("A", (0, 0, 200, 100))]), approval_act="Décret 4",
                      approved=date(2026, 1, 1))
        assert heard[-1] == (3, 4)  # outside a deferring block: at once
    finally:
        PUBLISH_LISTENERS.remove(listener)
