"""Store.feature_page / feature_by_id on both backends, on the tiny territory (numbers by hand, see conftest)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pygeofilter.parsers.cql2_text import parse

from gisportal.storage.featurequery import FeatureQuery
from gisportal.zoning.plans import versions_in_force

pytestmark = pytest.mark.backends("embedded", "postgis", "replicated")  # replicas through PgBouncer too


@pytest.fixture(scope="module")
def store(tiny: SimpleNamespace):
    opened = tiny.open_store()
    yield opened
    opened.close()


def _refs(page) -> list[str]:
    return page.frame["ref"].tolist()


def test_whole_layers_and_versions(store, tiny: SimpleNamespace) -> None:
    v2 = tuple(v.id for v in versions_in_force(store.plan_versions(), tiny.today))
    zones = store.feature_page(FeatureQuery("zones", v2))
    assert zones.matched == 3 and zones.frame["code"].tolist() == ["A", "B", "C"]
    assert zones.frame.geometry.area.sum() == pytest.approx(30_000.0)
    assert store.feature_page(FeatureQuery("zones")).matched == 4  # both versions


def test_box_page_and_keyset(store, tiny: SimpleNamespace) -> None:
    x0, y0 = tiny.x0, tiny.y0
    page = store.feature_page(FeatureQuery("parcels", bbox=(x0 + 85, y0 + 5, x0 + 175, y0 + 75)))
    assert sorted(_refs(page)) == ["TF-1001/06", "TF-1003/06", "TF-1007/06"]
    first = store.feature_page(FeatureQuery("parcels", limit=3, offset=2))
    assert first.matched == 7 and len(first.frame) == 3
    after = store.feature_page(FeatureQuery("parcels", limit=2, after_id=int(first.frame["id"].iloc[0]),
                                            count=False))
    assert _refs(after) == _refs(first)[1:3]
    assert store.feature_page(FeatureQuery("parcels", limit=100, offset=7)).frame.empty


@pytest.mark.parametrize(("cql", "refs"), [
    ("quarter = 'Marshan' AND NOT address IS NULL", ["TF-1001/06", "TF-1002/06", "TF-1005/06"]),
    ("address IS NULL OR quarter = 'Souani'", ["TF-1006/06", "TF-1007/06"]),
    ("ref NOT IN ('TF-1001/06', 'TF-1002/06', 'TF-1003/06', 'TF-1004/06', 'TF-1005/06')", ["TF-1006/06",
                                                                                           "TF-1007/06"]),
    ("ref BETWEEN 'TF-1002/06' AND 'TF-1003/06'", ["TF-1002/06", "TF-1003/06"]),
    ("ref NOT BETWEEN 'TF-1002/06' AND 'TF-1006/06'", ["TF-1001/06", "TF-1007/06"]),
    ("address LIKE '%Pasteur'", ["TF-1003/06", "TF-1004/06"]),
])
def test_filters_agree_on_both_backends(store, cql: str, refs: list[str]) -> None:
    page = store.feature_page(FeatureQuery("parcels", where=parse(cql)))
    assert sorted(_refs(page)) == refs and page.matched == len(refs)


def test_feature_by_id(store) -> None:
    some = store.feature_page(FeatureQuery("parcels", limit=1, offset=3)).frame
    again = store.feature_by_id("parcels", int(some["id"].iloc[0]))
    assert _refs(SimpleNamespace(frame=again)) == _refs(SimpleNamespace(frame=some))
    assert store.feature_by_id("parcels", 10**9).empty
