"""Issue #5: publishing a plan is all-or-nothing and safe, on both storage backends.

* a publishing process killed (SIGKILL) in the middle of its write leaves the published data exactly as it
  was, the draft still a draft, and the next publication works;
* two planners publishing at the same time both get a version (consecutive numbers), each version holding
  exactly its draft, a servitudes change is not lost to a concurrent zoning change, and one draft is never
  published twice;
* through the web: a blocking draft is refused (409), a form without its CSRF token is refused (400), and
  every planner page and the drafts API refuse anonymous visitors and ended sessions; nothing changes.

Everything runs on the tiny territory of ``conftest.py`` (plan ``tiny-plan``, versions 1 and 2, parcels
TF-1001/06 ... TF-1007/06), through the real ``gisportal`` command in subprocesses and the real app.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from support.instances import Instance

CLI = Path(sys.executable).parent / "gisportal"
PLAN = "tiny-plan"
TODAY = date.today().isoformat()
PLANNER, ADMIN, PASSWORD = "amina", "root.admin", "un-mot-de-passe-long"


# --------------------------------------------------------------------------- the instance and its drafts

@dataclass
class Site:
    """One writable tiny instance, its drafts (in this process) and the environment of the command line."""

    instance: Instance
    rules: Path
    files: Path
    drafts: Any
    tiny: Any

    @property
    def env(self) -> dict[str, str]:
        return {**{k: v for k, v in os.environ.items() if not k.startswith("GISPORTAL_")}, **self.instance.env,
                "GISPORTAL_RULES_FILE": str(self.rules)}

    def box(self, a: float, b: float, c: float, d: float) -> shapely.Polygon:
        return self.tiny.box(a, b, c, d)

    def zones_draft(self, name: str, rows: list[tuple[str, tuple]], user: str = PLANNER) -> Any:
        """A zones draft from a GeoPackage in Lambert written here: (code, box) rows."""
        path = self.files / f"{name}.gpkg"
        gpd.GeoDataFrame({"ZONE": [c for c, _ in rows], "LIB": [f"Zone {c} ({name})" for c, _ in rows]},
                         geometry=[self.box(*b) for _, b in rows], crs="EPSG:26191").to_file(path, engine="pyogrio")
        return self.drafts.create(path, path.name, plan_name=PLAN, kind="zones", user=user, zone_field="ZONE",
                                  label_field="LIB")

    def overlays_draft(self, name: str, kind: str, boxes: list[tuple], user: str = PLANNER) -> Any:
        path = self.files / f"{name}.gpkg"
        gpd.GeoDataFrame({"LIB": [f"{kind} {i}" for i in range(len(boxes))]},
                         geometry=[self.box(*b) for b in boxes], crs="EPSG:26191").to_file(path, engine="pyogrio")
        return self.drafts.create(path, path.name, plan_name=PLAN, kind="overlays", user=user, kind_value=kind,
                                  label_field="LIB")

    def publish_process(self, draft_id: int, act: str, user: str = PLANNER) -> subprocess.Popen:
        return subprocess.Popen([str(CLI), "publish", str(draft_id), "--act", act, "--approved", TODAY,
                                 "--user", user], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def versions(self) -> dict[int, Any]:
        store = self.instance.open_store()
        return {v.version: v for v in store.plan_versions() if v.plan_name == PLAN}

    def features(self, layer: str, version: int) -> gpd.GeoDataFrame:
        store = self.instance.open_store()
        v = next(v for v in store.plan_versions() if v.plan_name == PLAN and v.version == version)
        return store.features(layer, [v.id], None)

    def state(self) -> tuple:
        """The store snapshot, the drafts and the number of publications in the audit log."""
        from gisportal.core.agencydb import drafts
        from gisportal.core.audit import AuditFilter

        with self.drafts.db.read() as conn:
            rows = [tuple(r) for r in conn.execute(sa.select(drafts.c.id, drafts.c.status,
                                                             drafts.c.published_version_id).order_by(drafts.c.id))]
        return self.instance.snapshot(), rows, self.drafts.audit.count(AuditFilter(action="publish"))


@pytest.fixture
def site(tiny_writable: Instance, tiny_rules_file: Path, tiny: Any, tmp_path: Path) -> Any:
    from gisportal.core.audit import AuditLog
    from gisportal.core.settings import load_settings
    from gisportal.publishing.drafts import Drafts
    from gisportal.storage import open_agency
    from gisportal.zoning.rules import load_catalogue

    settings = load_settings({**tiny_writable.settings, "rules_file": tiny_rules_file})
    store = tiny_writable.open_store()
    db = open_agency(settings, store)
    files = tmp_path / "files"
    files.mkdir()
    yield Site(tiny_writable, tiny_rules_file, files,
               Drafts(db, AuditLog(db), store, load_catalogue(tiny_rules_file), settings.data_dir / "drafts"), tiny)
    db.close()


def _geometry_key(frame: gpd.GeoDataFrame) -> list[tuple]:
    """Features as comparable values: code or kind, and the bounds to the centimetre."""
    key = "code" if "code" in frame else "kind"
    return sorted((str(k), *np.round(shapely.bounds(g), 2).tolist())
                  for k, g in zip(frame[key], frame.geometry, strict=True))


def _finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


# --------------------------------------------------------------------------- (a) killed mid-write

#: A draft big enough to take a while to write: the strip cut into 1 m x 2 m cells, A west of x=150, B east.
GRID = [(("A" if x < 150 else "B"), (x, y, x + 1, y + 2)) for x in range(300) for y in range(0, 100, 2)]

def _writing_now(site: Site, pid: int) -> bool:
    """Whether the process ``pid`` is in the middle of its store write (and has not finished it)."""
    if site.instance.backend == "embedded":  # the copy being written, renamed over the store at the very end
        return (site.instance.data_dir / f".gisportal.{pid}.tmp.gpkg").exists()
    # PostGIS: a write holds gp_meta in EXCLUSIVE mode from its first statement to its COMMIT
    rows = site.instance.sql(
        "SELECT a.state, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.relation = 'gp_meta'::regclass AND l.mode = 'ExclusiveLock' AND l.granted "
        "AND a.pid <> pg_backend_pid()")
    return any(not query.strip().upper().startswith("COMMIT") for _state, query in rows)


def _backends_gone(site: Site, timeout: float = 15) -> None:
    """Wait until no other session of the database is left in a transaction (the killed one is rolled back)."""
    if site.instance.backend != "postgis":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not site.instance.sql("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND "
                                 "pid <> pg_backend_pid() AND xact_start IS NOT NULL"):
            return
        time.sleep(0.05)
    pytest.fail("the killed publisher's transaction is still open")


def _kill_mid_write(site: Site, draft_id: int) -> bool:
    """Run ``gisportal publish`` and SIGKILL it while it writes; False when it finished first."""
    process = site.publish_process(draft_id, "Décret interrompu")
    deadline = time.monotonic() + 60
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if _writing_now(site, process.pid):
                os.kill(process.pid, signal.SIGSTOP)  # frozen: now check it is still mid-write
                time.sleep(0.1)
                if _writing_now(site, process.pid):
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
                    return True
                os.kill(process.pid, signal.SIGCONT)
            time.sleep(0.001)
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
        process.communicate(timeout=30)
    assert process.returncode == 0, process.stderr
    return False


def test_a_publisher_killed_mid_write_changes_nothing_and_the_next_publication_works(site: Site) -> None:
    cells = GRID
    hits = misses = 0
    while hits == 0:
        assert misses < 4, "the publisher always finished before it could be killed mid-write"
        draft = site.zones_draft(f"grid{misses}", cells)
        assert not draft.blocking, draft.report["findings"][:3]
        before = site.state()
        versions_before = site.versions()
        if _kill_mid_write(site, draft.id):
            hits += 1
            _backends_gone(site)
            assert site.state() == before  # store bytes (or every table's digest), drafts and audit unchanged
            assert site.drafts.get(draft.id).status == "draft"
        else:  # it finished: then it published all of it
            misses += 1
            assert len(site.versions()) == len(versions_before) + 1
    assert site.versions().keys() == versions_before.keys()

    # the same draft is published afterwards, completely, as the next version
    code, out, err = _finish(site.publish_process(draft.id, "Décret n° 2-26-300"))
    assert code == 0, err
    number = max(versions_before) + 1
    assert f"{PLAN} version {number} published" in out
    zones = site.features("zones", number)
    assert len(zones) == len(cells) == 15_000
    assert zones.geometry.area.sum() == pytest.approx(300 * 100)
    assert sorted(site.features("overlays", number)["kind"]) == sorted(
        site.features("overlays", max(versions_before))["kind"])
    assert site.drafts.get(draft.id).status == "published"
    if site.instance.backend == "embedded":  # the killed writer's half-written copy does not stay behind
        assert not list(site.instance.data_dir.glob(".gisportal.*.tmp.gpkg*"))


# --------------------------------------------------------------------------- (b) two planners at once

def _note(site: Site, ref: str) -> dict[str, Any]:
    from gisportal.web import create_app

    app = create_app({**site.instance.settings, "rules_file": site.rules, "TESTING": True})
    answer = app.test_client().get(f"/api/v1/notes?ref={ref}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def test_two_planners_publishing_zones_at_once_get_consecutive_versions_each_with_its_draft(site: Site) -> None:
    d1 = site.zones_draft("east", [("A", (0, 0, 150, 100)), ("B", (150, 0, 300, 100))], user="amina")
    d2 = site.zones_draft("west", [("A", (0, 0, 50, 100)), ("B", (50, 0, 250, 100)), ("A", (250, 0, 300, 100))],
                          user="youssef")
    store = site.instance.open_store()
    counts = store.counts()
    p1 = site.publish_process(d1.id, "Arrêté A-1", "amina")
    p2 = site.publish_process(d2.id, "Arrêté B-2", "youssef")
    (c1, out1, err1), (c2, out2, err2) = _finish(p1), _finish(p2)
    assert (c1, c2) == (0, 0), (err1, err2)
    numbers = {int(re.search(r"version (\d+) published", out).group(1)) for out in (out1, out2)}
    assert numbers == {3, 4}

    v = site.versions()
    assert sorted(v) == [1, 2, 3, 4]
    by_draft = {d.id: site.drafts.get(d.id) for d in (d1, d2)}
    version_of = {d: next(n for n, ver in v.items() if ver.id == by_draft[d].published_version_id) for d in by_draft}
    assert sorted(version_of.values()) == [3, 4] and all(x.status == "published" for x in by_draft.values())
    # each version holds exactly its own draft's zones, and the servitudes of version 2
    expected = {d1.id: [("A", (0, 0, 150, 100)), ("B", (150, 0, 300, 100))],
                d2.id: [("A", (0, 0, 50, 100)), ("B", (50, 0, 250, 100)), ("A", (250, 0, 300, 100))]}
    for draft_id, number in version_of.items():
        want = gpd.GeoDataFrame({"code": [c for c, _ in expected[draft_id]]},
                                geometry=[site.box(*b) for _, b in expected[draft_id]], crs="EPSG:26191")
        assert _geometry_key(site.features("zones", number)) == _geometry_key(want)
        assert _geometry_key(site.features("overlays", number)) == _geometry_key(site.features("overlays", 2))
    after = site.instance.open_store().counts()
    assert after["zones"] == counts["zones"] + 2 + 3
    assert after["overlays"] == counts["overlays"] + 3 + 3
    assert after["plan_versions"] == counts["plan_versions"] + 2

    # the note follows version 4, whichever draft it is; TF-1001/06 (x 90..110) is all A in "east", all B in "west"
    last = next(d for d, n in version_of.items() if n == 4)
    note = _note(site, "TF-1001/06")
    assert [(z["code"], z["share"], z["plan_version"]) for z in note["zones"]] == [
        ("A" if last == d1.id else "B", 1.0, 4)]
    assert [(p["version"], p["status"]) for p in note["plans"]] == [(4, "in_force")]


def test_a_servitudes_change_published_beside_a_zoning_change_is_not_lost(site: Site) -> None:
    # planner 1 widens the road (servitudes), planner 2 moves the A/B border (zones), at the same moment
    road = site.overlays_draft("road", "road_widening", [(0, 10, 300, 20)], user="amina")
    border = site.zones_draft("border", [("A" if b[0] < 120 else "B", b) for _, b in GRID], user="youssef")
    p1 = site.publish_process(road.id, "Arrêté voirie", "amina")
    p2 = site.publish_process(border.id, "Décret", "youssef")
    (c1, _, err1), (c2, _, err2) = _finish(p1), _finish(p2)
    assert (c1, c2) == (0, 0), (err1, err2)
    latest = max(site.versions())
    assert latest == 4
    # whatever the order, the version in force carries both changes: the new border and the wider road
    zones = site.features("zones", latest)
    assert len(zones) == len(GRID)
    assert zones.geometry.area.groupby(zones["code"]).sum().round(3).to_dict() == {"A": 120 * 100, "B": 180 * 100}
    overlays = site.features("overlays", latest)
    widening = overlays[overlays["kind"] == "road_widening"]
    assert len(widening) == 1 and widening.geometry.iloc[0].area == pytest.approx(300 * 10)
    assert sorted(overlays["kind"]) == ["airport_easement", "heritage", "road_widening"]


def test_one_draft_published_twice_at_once_makes_one_version(site: Site) -> None:
    # a planner's double click, or two planners on the same draft; the draft is big enough to overlap in time
    draft = site.zones_draft("once", GRID)
    processes = [site.publish_process(draft.id, f"Décret {i}", f"planner{i}") for i in range(2)]
    results = [_finish(p) for p in processes]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert "already published" in refused
    assert sorted(site.versions()) == [1, 2, 3]
    assert len(site.features("zones", 3)) == len(GRID)
    assert site.state()[2] == 1  # one publication in the audit log


def test_a_publication_whose_mark_was_lost_is_recognised_not_made_twice(site: Site, monkeypatch: Any) -> None:
    """The store's publication and the draft's mark are two commits: a failure between them (here, the audit
    record in the agency's transaction) leaves the version published and the draft unmarked. Published again,
    the draft is recognised by the origin its version carries: marked published, no second version."""
    draft = site.zones_draft("lost-mark", [("A", (0, 0, 150, 100)), ("B", (150, 0, 300, 100))])
    before = sorted(site.versions())

    def audit_fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("agency database gone (simulated)")

    with monkeypatch.context() as patch:
        patch.setattr(site.drafts.audit, "record", audit_fails)
        with pytest.raises(RuntimeError, match="simulated"):
            site.drafts.publish(draft.id, approval_act="Décret 2-26-1", approved=date.today(), effective=None,
                                user=PLANNER)
    versions = site.versions()
    assert sorted(versions) == before + [before[-1] + 1]  # the store's commit stood
    published = versions[before[-1] + 1]
    assert published.origin == draft.origin and site.drafts.get(draft.id).status == "draft"  # the mark did not

    again = site.drafts.publish(draft.id, approval_act="Décret 2-26-1", approved=date.today(), effective=None,
                                user=PLANNER)
    assert again.id == published.id and sorted(site.versions()) == before + [before[-1] + 1]
    marked = site.drafts.get(draft.id)
    assert (marked.status, marked.published_version_id) == ("published", published.id)
    assert site.state()[2] == 1  # one publication in the audit log
    other = site.zones_draft("next", [("B", (0, 0, 300, 100))])  # the next draft publishes as usual
    assert site.drafts.publish(other.id, approval_act="Décret 2-26-2", approved=date.today(), effective=None,
                               user=PLANNER).version == before[-1] + 2


# --------------------------------------------------------------------------- the web: (c) (d) (e)

def _token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def web(site: Site) -> Any:
    """The app on the site, a planner and an administrator."""
    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    app = create_app({**site.instance.settings, "rules_file": site.rules, "TESTING": True})
    accounts = Accounts(app.extensions["gisportal"].agency)
    accounts.create(PLANNER, PASSWORD, "planner")
    accounts.create(ADMIN, PASSWORD, "admin")
    return app


def _signed_in(app: Any, username: str) -> Any:
    client = app.test_client()
    answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                         "csrf_token": _token(client.get("/login").get_data(as_text=True))})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client


def _web_upload(client: Any, path: Path, **fields: str) -> Any:
    token = _token(client.get("/admin/upload").get_data(as_text=True))
    with open(path, "rb") as handle:
        return client.post("/admin/upload", data={"csrf_token": token, "plan_name": PLAN, "kind": "zones",
                                                   "preset": "", **fields, "file": (handle, path.name)},
                           content_type="multipart/form-data")


def test_c_a_blocking_draft_is_refused_through_the_web_and_nothing_changes(site: Site, web: Any) -> None:
    client = _signed_in(web, PLANNER)
    overlapping = site.files / "overlap.geojson"
    gpd.GeoDataFrame({"ZONE": ["A", "B"]}, geometry=[site.box(0, 0, 160, 100), site.box(140, 0, 300, 100)],
                     crs="EPSG:26191").to_crs(4326).to_file(overlapping, driver="GeoJSON")
    answer = _web_upload(client, overlapping, zone_field="ZONE")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/admin/drafts/{draft_id}").get_data(as_text=True)
    assert 'data-blocking="true"' in page and 'data-code="zone_overlap"' in page
    assert 'id="publish"' not in page  # no publish form is offered
    before = site.state()

    refused = client.post(f"/admin/drafts/{draft_id}/publish", data={
        "csrf_token": _token(page), "approval_act": "Décret", "approved": TODAY})
    assert refused.status_code == 409
    assert "blocking" in refused.get_data(as_text=True)
    assert site.state() == before
    assert site.drafts.get(draft_id).status == "draft"
    assert client.get("/api/v1/plans").get_json()["plans"][0]["version"] == 2
    # nor by the command line
    code, _, err = _finish(site.publish_process(draft_id, "Décret"))
    assert code == 2 and "blocking" in err
    assert site.state() == before


def test_d_publishing_without_the_csrf_token_is_refused_and_nothing_changes(site: Site, web: Any) -> None:
    client = _signed_in(web, PLANNER)
    good = site.files / "good.geojson"
    gpd.GeoDataFrame({"ZONE": ["A", "B"]}, geometry=[site.box(0, 0, 160, 100), site.box(160, 0, 300, 100)],
                     crs="EPSG:26191").to_crs(4326).to_file(good, driver="GeoJSON")
    draft_id = int(_web_upload(client, good, zone_field="ZONE").headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/admin/drafts/{draft_id}").get_data(as_text=True)
    assert 'data-blocking="false"' in page
    before = site.state()
    form = {"approval_act": "Décret n° 2-26-9", "approved": TODAY}
    for extra in ({}, {"csrf_token": "forged-token"}, {"csrf_token": ""}):
        answer = client.post(f"/admin/drafts/{draft_id}/publish", data={**form, **extra})
        assert answer.status_code == 400, (extra, answer.status_code)
        assert site.state() == before
    # the same form with the page's token goes through: the refusals were the token's doing
    answer = client.post(f"/admin/drafts/{draft_id}/publish", data={**form, "csrf_token": _token(page)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/versions")
    assert sorted(site.versions()) == [1, 2, 3]


def _sample(converter: Any) -> Any:
    """A value a URL converter accepts (for routes whose arguments this test does not know)."""
    if hasattr(converter, "items"):
        return sorted(converter.items)[0]
    return 1 if "Integer" in type(converter).__name__ else "A"


def _admin_routes(app: Any, draft_id: int) -> list[tuple[str, str]]:
    """(method, url) of every /admin/* route and of the drafts API, with real values in the URL."""
    values = {"draft_id": draft_id, "plan": PLAN, "version": 1, "username": PLANNER}
    calls = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if not (rule.rule.startswith("/admin") or rule.rule.startswith("/api/v1/drafts")):
                continue
            args = {a: values[a] if a in values else _sample(rule._converters[a])
                    for a in rule.arguments - set(rule.defaults or ())}
            url = url_for(rule.endpoint, **args)
            calls += [(m, url) for m in sorted(rule.methods & {"GET", "POST"})]
    return calls


def test_e_anonymous_and_ended_sessions_are_refused_everywhere_under_admin(site: Site, web: Any) -> None:
    draft = site.zones_draft("anon", [("A", (0, 0, 160, 100)), ("B", (160, 0, 300, 100))])
    calls = _admin_routes(web, draft.id)
    paths = {url for _, url in calls}
    assert {"/admin", "/admin/upload", f"/admin/drafts/{draft.id}", f"/admin/drafts/{draft.id}/publish",
            f"/admin/drafts/{draft.id}/impact.csv", f"/admin/drafts/{draft.id}/discard", "/admin/versions",
            f"/admin/plans/{PLAN}/rollback/1", f"/api/v1/drafts/{draft.id}", "/admin/users", "/admin/audit"} <= paths
    assert len(calls) >= 15, calls
    form = {"approval_act": "Décret", "approved": TODAY, "plan_name": PLAN, "kind": "zones", "zone_field": "ZONE",
            "username": "intruder", "password": "un-autre-mot-de-passe", "role": "admin"}
    before = site.state()
    with site.drafts.db.read() as conn:
        users_before = conn.execute(sa.text("SELECT count(*) FROM gp_users")).scalar_one()

    def refused(client: Any, expect_token: bool) -> None:
        token = _token(client.get("/login?next=/admin").get_data(as_text=True)) if expect_token else None
        for method, url in calls:
            data = {**form, **({"csrf_token": token} if token else {})}
            answer = client.get(url) if method == "GET" else client.post(url, data=data)
            if method == "POST" and not token:
                assert answer.status_code == 400, (method, url, answer.status_code)  # CSRF first
            elif url.startswith("/api/"):
                assert answer.status_code == 401, (method, url, answer.status_code)
                assert answer.get_json()["error"]
            else:
                assert answer.status_code in (302, 303), (method, url, answer.status_code)
                assert answer.headers["Location"].startswith("/login"), (method, url, answer.headers["Location"])

    # anonymous, with and without a CSRF token of its own session
    refused(web.test_client(), expect_token=False)
    refused(web.test_client(), expect_token=True)
    assert site.state() == before
    # a planner whose account an administrator has just disabled: the open session is over
    client = _signed_in(web, PLANNER)
    assert client.get(f"/api/v1/drafts/{draft.id}").status_code == 200
    admin = _signed_in(web, ADMIN)
    users_page = admin.get("/admin/users").get_data(as_text=True)
    disabled = admin.post(f"/admin/users/{PLANNER}/disable", data={"csrf_token": _token(users_page)})
    assert disabled.status_code in (302, 303)
    before = site.state()
    refused(client, expect_token=True)
    assert site.state() == before
    assert site.drafts.get(draft.id).status == "draft"
    with site.drafts.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM gp_users")).scalar_one() == users_before


def test_e_a_planner_cannot_use_the_administrators_pages(site: Site, web: Any) -> None:
    client = _signed_in(web, PLANNER)
    token = _token(client.get("/admin/upload").get_data(as_text=True))
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    answer = client.post("/admin/users", data={"csrf_token": token, "username": "intruder", "role": "admin",
                                               "password": "un-autre-mot-de-passe"})
    assert answer.status_code == 403
    assert client.post(f"/admin/users/{ADMIN}/disable", data={"csrf_token": token}).status_code == 403
    from gisportal.core.accounts import Accounts

    accounts = Accounts(web.extensions["gisportal"].agency)
    assert accounts.find("intruder") is None and accounts.find(ADMIN).active
