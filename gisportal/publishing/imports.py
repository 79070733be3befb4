"""Importing plan layers and parcels from vector files, with a report.

Every feature is accounted for: imported as is, repaired (invalid geometry
made valid, 3D flattened), or skipped with its reason (empty geometry, no
zone code, duplicate reference, not a polygon). Nothing is written unless the
whole file was read and at least one feature is usable; the store's write is
all or nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.core.coords import crs_of
from gisportal.core.errors import DataFileError, InvalidInput
from gisportal.core.vectors import read_vector_layer
from gisportal.storage.base import NewPlanVersion, Store
from gisportal.zoning.parcels import ref_key
from gisportal.zoning.plans import PlanVersion

logger = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What happened to each feature of an imported file."""

    source: str
    source_crs: str = ""
    read: int = 0
    imported: int = 0
    repaired: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    skipped: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary with counts and the ids concerned."""
        return {
            "source": self.source, "source_crs": self.source_crs, "read": self.read, "imported": self.imported,
            "repaired": {k: {"count": len(v), "features": v[:50]} for k, v in self.repaired.items()},
            "skipped": {k: {"count": len(v), "features": v[:50]} for k, v in self.skipped.items()},
        }


def _field(frame: gpd.GeoDataFrame, name: str | None, what: str, source: str) -> str | None:
    if name is None:
        return None
    if name not in frame.columns:
        fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        raise DataFileError(f"{source}: no field '{name}' for the {what}. Fields in the file: {fields}.",
                            file=source, field=name)
    return name


def clean_polygons(frame: gpd.GeoDataFrame, report: ImportReport, ids: np.ndarray) -> gpd.GeoDataFrame:
    """Flatten 3D, repair invalid geometries, skip empty and non-polygonal ones (all reported)."""
    geoms = frame.geometry.values
    missing = np.asarray(geoms.isna() | shapely.is_empty(np.asarray(geoms, dtype=object)), dtype=bool)
    report.skipped["empty_geometry"] += ids[missing].tolist()
    keep = ~missing
    arr = np.asarray(geoms, dtype=object)
    has_z = np.zeros(len(arr), dtype=bool)
    has_z[keep] = shapely.has_z(arr[keep])
    if has_z.any():
        arr[has_z] = shapely.force_2d(arr[has_z])
        report.repaired["flattened_3d"] += ids[has_z].tolist()
    invalid = np.zeros(len(arr), dtype=bool)
    invalid[keep] = ~shapely.is_valid(arr[keep])
    if invalid.any():
        fixed = shapely.make_valid(arr[invalid])
        polygonal = [_polygonal_part(g) for g in fixed]
        arr[invalid] = polygonal
        report.repaired["invalid_geometry"] += ids[invalid].tolist()
    poly = np.zeros(len(arr), dtype=bool)
    poly[keep] = np.isin(shapely.get_type_id(arr[keep]), [3, 6]) & ~shapely.is_empty(arr[keep])
    not_poly = keep & ~poly
    report.skipped["not_a_polygon"] += ids[not_poly].tolist()
    out = frame.copy()
    out = out.set_geometry(gpd.GeoSeries(arr, index=frame.index, crs=frame.crs))
    return out[poly]


def _polygonal_part(geometry: BaseGeometry) -> BaseGeometry:
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _read(path: Path, layer: str | None, crs: str | None, encoding: str | None) -> tuple[gpd.GeoDataFrame,
                                                                                        ImportReport, np.ndarray]:
    frame = read_vector_layer(path, layer=layer, crs=crs, encoding=encoding)
    report = ImportReport(source=path.name, source_crs=crs_of(frame).to_string(), read=len(frame))
    ids = np.arange(1, len(frame) + 1)
    return frame.reset_index(drop=True), report, ids


def _in_metres(crs: Any) -> bool:
    """True when the CRS's axes are in metres (areas computed in it are m²)."""
    return all(axis.unit_name in ("metre", "meter") for axis in crs.axis_info[:2])


def _metric(store: Store, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to the store's CRS; a first layer in degrees or feet picks a UTM zone as instance CRS."""
    if not store.crs and (crs_of(frame).is_geographic or not _in_metres(frame.crs)):
        return frame.to_crs(frame.estimate_utm_crs())
    return frame.to_crs(store.crs) if store.crs and frame.crs != store.crs else frame


def _text(value: Any) -> str:
    """A cell as text; an integer field with blanks is read as floats: code 12, not "12.0"."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _text_column(frame: gpd.GeoDataFrame, name: str | None) -> Any:
    if name is None:
        return ""
    return frame[name].map(_text)


def _require_rows(frame: gpd.GeoDataFrame, report: ImportReport) -> None:
    if not len(frame):
        raise DataFileError(f"{report.source}: no usable feature (read {report.read}); nothing was imported.",
                            report=report.to_dict())


def import_plan(store: Store, path: Path, *, name: str, zone_field: str, label_field: str | None = None,
                label_ar_field: str | None = None, layer: str | None = None, crs: str | None = None,
                encoding: str | None = None, approved: date | None = None, approval_act: str | None = None,
                title_fr: str | None = None, title_ar: str | None = None,
                origin: str | None = None) -> tuple[PlanVersion, ImportReport]:
    """Publish the zones in ``path`` as the new current version of plan ``name`` (``origin``: recorded with it,
    see :mod:`gisportal.publishing.import_checks`)."""
    if not name.strip():
        raise InvalidInput("A plan needs a name.")
    frame, report, ids = _read(Path(path), layer, crs, encoding)
    _field(frame, zone_field, "zone code", report.source)
    _field(frame, label_field, "zone label", report.source)
    _field(frame, label_ar_field, "Arabic zone label", report.source)
    codes = _text_column(frame, zone_field)
    no_code = (codes == "").to_numpy()
    report.skipped["no_zone_code"] += ids[no_code].tolist()
    frame = frame.assign(code=codes, label_fr=_text_column(frame, label_field),
                         label_ar=_text_column(frame, label_ar_field))[~no_code]
    frame = clean_polygons(frame, report, ids[~no_code])
    _require_rows(frame, report)
    approved = approved or date.today()
    existing = next((p for p in store.plans() if p.name == name), None)
    new = NewPlanVersion(name, title_fr or (existing.title_fr if existing else name),
                         title_ar or (existing.title_ar if existing else name),
                         approval_act or f"Approved {approved.isoformat()}", approved, approved, origin=origin)
    version = store.publish_plan_version(new, _metric(store, frame[["code", "label_fr", "label_ar", "geometry"]]))
    report.imported = len(frame)
    logger.info("plan %s version %d published from %s", name, version.version, report.source)
    return version, report


def import_overlays(store: Store, path: Path, *, plan: str, kind: str | None = None, kind_field: str | None = None,
                    label_field: str | None = None, layer: str | None = None, crs: str | None = None,
                    encoding: str | None = None) -> tuple[PlanVersion, ImportReport]:
    """Attach the servitudes in ``path`` to the current version of ``plan``."""
    if (kind is None) == (kind_field is None):
        raise InvalidInput("Give either --kind or --kind-field.")
    frame, report, ids = _read(Path(path), layer, crs, encoding)
    _field(frame, kind_field, "overlay kind", report.source)
    _field(frame, label_field, "overlay label", report.source)
    kinds = _text_column(frame, kind_field) if kind_field else frame.geometry.map(lambda _: kind)
    no_kind = (kinds == "").to_numpy()
    report.skipped["no_overlay_kind"] += ids[no_kind].tolist()
    labels = _text_column(frame, label_field)
    frame = frame.assign(kind=kinds, label_fr=labels, label_ar=labels, provision_fr="", provision_ar="",
                         max_height_m=np.nan)[~no_kind]
    frame = clean_polygons(frame, report, ids[~no_kind])
    _require_rows(frame, report)
    columns = ["kind", "label_fr", "label_ar", "provision_fr", "provision_ar", "max_height_m", "geometry"]
    version = store.add_overlays(plan, _metric(store, frame[columns]))
    report.imported = len(frame)
    return version, report


def import_parcels(store: Store, path: Path, *, ref_field: str, address_field: str | None = None,
                   quarter_field: str | None = None, layer: str | None = None, crs: str | None = None,
                   encoding: str | None = None) -> ImportReport:
    """Insert or replace parcels by land-title reference; duplicates in the file are skipped, not merged."""
    frame, report, ids = _read(Path(path), layer, crs, encoding)
    for name, what in ((ref_field, "land-title reference"), (address_field, "address"), (quarter_field, "quarter")):
        _field(frame, name, what, report.source)
    refs = _text_column(frame, ref_field)
    frame = frame.assign(ref=refs, ref_key=refs.map(ref_key), address=_text_column(frame, address_field),
                         quarter=_text_column(frame, quarter_field))
    no_ref = (frame["ref_key"] == "").to_numpy()
    report.skipped["no_reference"] += ids[no_ref].tolist()
    frame, ids = frame[~no_ref], ids[~no_ref]
    duplicated = frame["ref_key"].duplicated(keep="first").to_numpy()
    report.skipped["duplicate_reference"] += frame.loc[duplicated, "ref"].tolist()
    frame = clean_polygons(frame[~duplicated], report, ids[~duplicated])
    _require_rows(frame, report)
    counts = store.put_parcels(_metric(store, frame[["ref", "ref_key", "address", "quarter", "geometry"]]))
    report.imported = len(frame)
    logger.info("parcels from %s: %s", report.source, counts)
    return report
