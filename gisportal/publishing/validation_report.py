"""The validation report of a plan layer: its findings, their codes and severities (see :mod:`gisportal.publishing.validation`).

A module of its own so that the reading (:mod:`gisportal.publishing.validation`), the CRS and encoding work
(:mod:`gisportal.publishing.validation_source`) and the checks (:mod:`gisportal.publishing.validation_checks`) share it without
importing each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry

BLOCKING, WARNING = "blocking", "warning"

#: Every finding code and its severity ("either": blocking or warning depending on the case).
CODES: dict[str, str] = {
    "no_features": BLOCKING, "crs_missing": BLOCKING, "crs_unusable": "either", "crs_custom": WARNING,
    "crs_ignored": WARNING, "coordinates_outside_crs": "either", "encoding_detected": WARNING,
    "garbled_text": WARNING, "flattened_3d": WARNING, "empty_geometry": WARNING, "invalid_geometry": WARNING,
    "not_polygon": "either", "no_usable_feature": BLOCKING, "zone_field_missing": BLOCKING,
    "no_zone_code": "either", "code_without_rules": WARNING, "zone_overlap": "either", "zone_gap": WARNING,
    "outside_territory": "either", "duplicate_feature": WARNING,
}


@dataclass
class Finding:
    """One problem found in the layer."""

    severity: str
    code: str
    message: str
    feature_id: int | None = None
    location: tuple[float, float] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; location as ``[lon, lat]``."""
        return {"severity": self.severity, "code": self.code, "message": self.message,
                "feature_id": self.feature_id, "location": list(self.location) if self.location else None,
                "details": self.details}


@dataclass
class ValidationReport:
    """Everything found in one layer, with what was read and which CRS and encoding were used."""

    source: str
    layer: str | None
    kind: str
    feature_count: int = 0
    geometry_type: str | None = None
    fields: list[str] = field(default_factory=list)
    zone_field: str | None = None
    crs_found: str | None = None
    crs_used: str | None = None
    area_crs: str | None = None
    encoding_found: str | None = None
    encoding_used: str | None = None
    bbox_wgs84: list[float] | None = None
    findings: list[Finding] = field(default_factory=list)
    #: Findings per code, including those left out of :attr:`findings` beyond the cap.
    by_code: Counter = field(default_factory=Counter)
    by_severity: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter, repr=False)
    max_per_code: int = 100
    seconds: float = 0.0
    #: Turns a point of the working CRS into WGS84 (lon, lat); set once the CRS is known.
    locate: Any = field(default=None, repr=False)

    def add(self, severity: str, code: str, message: str, *, feature_id: int | None = None,
            at: BaseGeometry | None = None, **details: Any) -> None:
        """Record a finding; past ``max_per_code`` of one code only the counts grow."""
        if code not in CODES:
            raise ValueError(f"undocumented finding code {code!r}: add it to CODES")
        self.by_code[code] += 1
        self.by_severity[severity] += 1
        self.kept[code, severity] += 1
        if self.kept[code, severity] > self.max_per_code:  # per severity: warnings never crowd out blockers
            return
        location = self.locate(at) if (self.locate is not None and at is not None) else None
        self.findings.append(Finding(severity, code, message, feature_id, location, details))

    @property
    def counts(self) -> dict[str, int]:
        """Number of findings per severity."""
        return {BLOCKING: self.by_severity[BLOCKING], WARNING: self.by_severity[WARNING]}

    @property
    def blocking(self) -> bool:
        """True when at least one finding blocks publication."""
        return self.by_severity[BLOCKING] > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        omitted = self.omitted()
        return {
            "source": self.source, "layer": self.layer, "kind": self.kind, "feature_count": self.feature_count,
            "geometry_type": self.geometry_type, "fields": self.fields, "zone_field": self.zone_field,
            "crs_found": self.crs_found, "crs_used": self.crs_used, "area_crs": self.area_crs,
            "encoding_found": self.encoding_found, "encoding_used": self.encoding_used,
            "bbox_wgs84": self.bbox_wgs84, "blocking": self.blocking, "counts": self.counts,
            "counts_by_code": dict(self.by_code), "omitted": omitted, "seconds": round(self.seconds, 3),
            "findings": [f.to_dict() for f in self.sorted_findings()],
        }

    def omitted(self) -> dict[str, int]:
        """Findings counted but not listed, per code."""
        listed = Counter(f.code for f in self.findings)
        return {code: n - listed[code] for code, n in self.by_code.items() if n > listed[code]}

    def sorted_findings(self) -> list[Finding]:
        """Blocking findings first, then warnings, each in the order found."""
        return sorted(self.findings, key=lambda f: f.severity != BLOCKING)

    def to_text(self) -> str:
        """A plain-text summary for the terminal, one line per finding."""
        lines = [f"{self.source}" + (f" (layer {self.layer})" if self.layer else "")
                 + f": {self.feature_count} features, checked as {self.kind}",
                 f"CRS: {self.crs_used or 'none'} (declared: {self.crs_found or 'none'}); areas in "
                 f"{self.area_crs or 'unknown units'}",
                 f"encoding: {self.encoding_used or 'n/a'} (declared: {self.encoding_found or 'none'})"]
        if self.bbox_wgs84:
            lines.append("extent (lon/lat): " + ", ".join(f"{v:.6f}" for v in self.bbox_wgs84))
        for f in self.sorted_findings():
            where = f" feature {f.feature_id}" if f.feature_id else ""
            at = f" at lat/lon {f.location[1]:.6f}, {f.location[0]:.6f}" if f.location else ""
            lines.append(f"{f.severity.upper():8} {f.code}{where}{at}: {f.message}")
        for code, n in self.omitted().items():
            lines.append(f"         ... and {n} more {code}")
        verdict = "BLOCKED: fix the blocking findings" if self.blocking else "OK to publish"
        lines.append(f"{self.counts[BLOCKING]} blocking, {self.counts[WARNING]} warning(s): {verdict}")
        return "\n".join(lines)
