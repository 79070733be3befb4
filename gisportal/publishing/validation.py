"""Validating a plan layer before it is published: one report for the web upload, the API and the CLI.

:func:`validate_layer` reads one layer and returns a :class:`ValidationReport`
of findings. A finding is ``blocking`` (the layer cannot be published as is)
or a ``warning`` (it can, with the repair or skip described). Findings carry a
stable ``code`` (see :data:`CODES`), a sentence a planner understands, the
1-based position of the feature in the file when one is concerned, and a
WGS84 lon/lat to look at. Areas are square metres in the instance's metric
CRS, or in the local UTM zone when no instance CRS is given; never degrees.

This module reads the file (the report is in :mod:`gisportal.publishing.validation_report`);
the CRS and the text encoding are worked out in :mod:`gisportal.publishing.validation_source`,
the checks are in :mod:`gisportal.publishing.validation_checks`. Uploads go through
:mod:`gisportal.publishing.uploads` first.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.core.errors import DataFileError, GisportalError, InvalidInput
from gisportal.core.vector_child import ReadLimits
from gisportal.core.vectors import read_vector_layer
from gisportal.publishing import validation_checks as checks
from gisportal.publishing import validation_source as source
from gisportal.publishing.uploads import open_upload
from gisportal.publishing.validation_report import BLOCKING as BLOCKING
from gisportal.publishing.validation_report import CODES as CODES
from gisportal.publishing.validation_report import WARNING as WARNING
from gisportal.publishing.validation_report import Finding as Finding
from gisportal.publishing.validation_report import ValidationReport
from gisportal.storage import backend_name, open_store
from gisportal.zoning.rules import load_catalogue

logger = logging.getLogger(__name__)

KINDS = ("zones", "overlays", "parcels")

#: A CRS for reading a file that declares none; it is dropped right after reading.
_PLACEHOLDER_CRS = ('ENGCRS["unknown",EDATUM["unknown"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["metre",1]],'
                    'AXIS["y",north,LENGTHUNIT["metre",1]]]')


def validate_layer(path: str | Path, *, layer: str | None = None, zone_field: str | None = None,
                   crs: str | None = None, encoding: str | None = None, catalogue: Any = None,
                   territory: tuple[float, float, float, float] | BaseGeometry | None = None,
                   instance_crs: str | None = None, kind: str = "zones", min_area_m2: float = 1.0,
                   max_per_code: int = 100, limits: ReadLimits | None = None) -> ValidationReport:
    """Check one layer of a vector file and report every problem found.

    ``crs`` is used when the file declares none; ``encoding`` overrides the
    .cpg and detection; ``catalogue`` (a :class:`~gisportal.zoning.rules.RulesCatalogue`
    or a collection of codes) lists the zone codes that have rules;
    ``territory`` is the agency's territory (bounds or a geometry in
    ``instance_crs``); the file is read within ``limits`` (time, memory, vertices). Overlaps and gaps smaller than
    ``min_area_m2`` are
    slivers (overlaps: warning; gaps: ignored). A zip is opened through
    :func:`gisportal.publishing.uploads.open_upload` (same refusals as uploads).
    Unreadable files raise :class:`DataFileError`.
    """
    path = Path(path)
    if kind not in KINDS:
        raise InvalidInput(f"Unknown kind '{kind}'; use one of {', '.join(KINDS)}.", parameter="kind")
    if territory is not None and not instance_crs:
        raise InvalidInput("A territory is given in the instance CRS: give instance_crs too.")
    if path.suffix.lower() == ".zip":
        with open_upload(path) as intake:
            return validate_upload(intake, layer=layer, zone_field=zone_field, crs=crs, encoding=encoding,
                                   catalogue=catalogue, territory=territory, instance_crs=instance_crs, kind=kind,
                                   min_area_m2=min_area_m2, max_per_code=max_per_code, limits=limits)
    started = time.perf_counter()
    report = ValidationReport(source=path.name, layer=layer, kind=kind, max_per_code=max_per_code)
    info = _info(path, layer)
    report.layer = layer or (info["layer_name"] if path.suffix.lower() == ".gpkg" else None)
    report.geometry_type = info.get("geometry_type")
    report.fields = [str(f) for f in info.get("fields", [])]
    is_shapefile = path.suffix.lower() == ".shp"
    prj = _read_small(path.with_suffix(".prj")) if is_shapefile else None
    source_crs = source.resolve_crs(report, info.get("crs"), prj, crs, instance_crs, is_shapefile)
    read_encoding = source.resolve_encoding(report, path, encoding) if is_shapefile else None
    if not is_shapefile:
        report.encoding_used = "utf-8"  # GeoPackage and GeoJSON text is UTF-8 by definition
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Measured \\(M\\) geometry types are not supported")
        frame = read_vector_layer(path, layer=layer, crs=None if info.get("crs") else (crs or _PLACEHOLDER_CRS),
                                  encoding=read_encoding, limits=limits)
    if source_crs:
        frame = frame.set_crs(source_crs, allow_override=True)
    else:  # None drops the CRS: geopandas accepts it, types-geopandas does not
        frame = frame.set_crs(None, allow_override=True)  # type: ignore[call-overload]
    report.feature_count = len(frame)
    if not len(frame):
        report.add(BLOCKING, "no_features", "The layer holds no feature.")
    else:
        area_crs = source.area_crs(report, frame, source_crs, instance_crs)
        try:
            checks.run_checks(report, frame.reset_index(drop=True), area_crs=area_crs, zone_field=zone_field,
                              catalogue=_codes(catalogue), min_area_m2=min_area_m2,
                              territory=source.territory_in(area_crs, territory, instance_crs),
                              measured=info["measured"] or _is_measured(report.geometry_type))
        except shapely.errors.GEOSException as exc:  # geometry GEOS cannot process even after repair
            raise DataFileError(f"{path.name}: a geometry could not be processed ({exc}); check the layer in a GIS.",
                                file=path.name) from None
    report.seconds = time.perf_counter() - started
    report.locate = None  # a closure over a PROJ transformer: not kept with the report
    logger.info("validated %s: %d features, %s in %.2fs", path.name, report.feature_count, report.counts,
                report.seconds)
    return report


def validate_upload(intake: Any, layer: str | None = None, **options: Any) -> ValidationReport:
    """:func:`validate_layer` on one layer of an accepted upload (:class:`gisportal.publishing.uploads.Intake`).

    The report names the uploaded file and the layer as the user sees them.
    """
    chosen = intake.layer(layer)
    report = validate_layer(chosen.path, layer=chosen.layer, **options)
    report.source, report.layer = intake.original_name, chosen.name
    return report


def _info(path: Path, layer: str | None) -> dict[str, Any]:
    import pyogrio  # GDAL's binding (a quarter of a second to load): only when a file is read

    if not path.exists():
        raise DataFileError(f"File not found: {path}", file=str(path))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layers = [str(row[0]) for row in pyogrio.list_layers(path) if row[1] is not None]
            if layer is None and len(layers) > 1:
                raise InvalidInput(f"{path.name} holds {len(layers)} layers; choose one of: {', '.join(layers)}.",
                                   layers=layers)
            if layer is not None and layer not in layers:
                raise DataFileError(f"{path.name} has no layer '{layer}'; its layers are: {', '.join(layers)}.",
                                    file=path.name, layers=layers)
            info = pyogrio.read_info(path, layer=layer)
    except (InvalidInput, DataFileError):
        raise
    except Exception as exc:  # GDAL raises several error classes
        raise DataFileError(f"Cannot read {path.name}: {exc}", file=path.name) from None
    # pyogrio reports "Measured 3D Polygon" as "Polygon Z", with a warning: keep the fact.
    info["measured"] = any("Measured (M)" in str(w.message) for w in caught)
    return info


def _read_small(path: Path, limit: int = 65536) -> str | None:
    if not path.exists():
        return None
    raw = path.read_bytes()[:limit]
    try:
        return raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def _is_measured(geometry_type: str | None) -> bool:
    return bool(geometry_type) and bool(re.search(r"(\bM$|ZM$|Measured)", geometry_type or ""))


def _codes(catalogue: Any) -> set[str] | None:
    if catalogue is None:
        return None
    zones = getattr(catalogue, "zones", catalogue)
    return {str(code) for code in (zones.keys() if isinstance(zones, dict) else zones)}


def instance_context(settings: Any, store: Any = None) -> dict[str, Any]:
    """What the instance knows for validating: rules catalogue, metric CRS, territory bounds, reading limits.

    ``store`` is the instance's open store when the caller has one (the web
    app); otherwise an existing store is opened for the occasion (never
    created), and an unreachable one is skipped: the territory check is then
    left out.
    """

    context: dict[str, Any] = {"catalogue": None, "instance_crs": settings.crs or None, "territory": None,
                               "limits": ReadLimits.from_settings(settings)}
    if Path(settings.rules_file).exists():
        context["catalogue"] = load_catalogue(settings.rules_file)
    opened = None
    if store is None:

        if backend_name(settings) != "embedded" or settings.store_path.exists():
            try:
                store = opened = open_store(settings)
            except GisportalError as exc:
                logger.warning("store not available (%s); validating without the territory", exc.message)
    try:
        if store is not None:
            context["instance_crs"] = store.crs or context["instance_crs"]
            context["territory"] = store.extent() if context["instance_crs"] else None
    finally:
        if opened is not None:
            opened.close()
    return context
