"""Marshmallow schemas: request arguments (validated) and responses (documented).

The OpenAPI document at ``/api/v1/openapi.json`` is generated from these.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate


class _Args(Schema):
    lang = fields.String(validate=validate.Length(min=2, max=5),
                         metadata={"description": "fr, ar or en (and both, for a PDF)"})


class ParcelQueryArgs(_Args):
    """Which parcel: a land-title reference, a WGS84 point, or x/y in a given CRS."""

    ref = fields.String(validate=validate.Length(min=1, max=64),
                        metadata={"description": "Land-title reference, e.g. TF-104523/06"})
    lon = fields.Float(validate=validate.Range(-180, 180), metadata={"description": "WGS84 longitude"})
    lat = fields.Float(validate=validate.Range(-90, 90), metadata={"description": "WGS84 latitude"})
    x = fields.Float(metadata={"description": "Easting in `crs`"})
    y = fields.Float(metadata={"description": "Northing in `crs`"})
    crs = fields.String(validate=validate.Length(max=64), metadata={"description": "e.g. EPSG:26191"})
    as_of = fields.Date(metadata={"description": "Apply the plan versions in force on this date (YYYY-MM-DD)"})


class ParcelsArgs(ParcelQueryArgs):
    bbox = fields.String(metadata={"description": "minlon,minlat,maxlon,maxlat (WGS84): parcels in a box"})


class NoteArgs(ParcelQueryArgs):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "html", "pdf"]))


class SearchArgs(_Args):
    q = fields.String(required=True, validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 50))


class LayerArgs(_Args):
    as_of = fields.Date()
    bbox = fields.String(metadata={"description": "minlon,minlat,maxlon,maxlat (WGS84)"})


class ProblemSchema(Schema):
    """Every error answer of the API (one handler, :mod:`gisportal.web.core.errors`); details vary by error."""

    class Meta:
        unknown = INCLUDE  # documented as open: an error may add its details (parameter, limits, x/y...)

    error = fields.String(required=True, metadata={"description": "Machine-readable code"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    errors = fields.Dict(metadata={"description": "Invalid parameters, by location then name"})


class UseSchema(Schema):
    code = fields.String()
    label = fields.String()


class RulesSchema(Schema):
    allowed_uses = fields.List(fields.Nested(UseSchema))
    forbidden_uses = fields.List(fields.Nested(UseSchema))
    cos = fields.Float(allow_none=True)
    ces = fields.Float(allow_none=True)
    max_height_m = fields.Float(allow_none=True)
    max_floors = fields.Integer(allow_none=True)
    floors = fields.String(allow_none=True, metadata={"description": "R+n"})
    setbacks = fields.Dict()
    min_lot_area_m2 = fields.Float(allow_none=True)
    min_frontage_m = fields.Float(allow_none=True)
    parking = fields.String(allow_none=True)
    provisions = fields.String(allow_none=True)


class BuildabilitySchema(Schema):
    area_m2 = fields.Float()
    encumbered_area_m2 = fields.Float()
    max_footprint_m2 = fields.Float(allow_none=True)
    max_floor_area_m2 = fields.Float(allow_none=True)
    net_max_footprint_m2 = fields.Float(allow_none=True)
    net_max_floor_area_m2 = fields.Float(allow_none=True)
    max_height_m = fields.Float(allow_none=True)
    max_floors = fields.Integer(allow_none=True)
    complete = fields.Boolean()


class ZoneSchema(Schema):
    plan = fields.String()
    plan_version = fields.Integer()
    code = fields.String()
    label = fields.String()
    share = fields.Float(metadata={"description": "Share of the parcel under this code alone"})
    area_m2 = fields.Float(metadata={"description": "Land under this code alone (overlaps are in zone_overlaps)"})
    total_area_m2 = fields.Float(metadata={"description": "All the code's land on the parcel, overlaps included"})
    rules = fields.Nested(RulesSchema, allow_none=True)
    buildability = fields.Nested(BuildabilitySchema)


class ZoneOverlapSchema(Schema):
    codes = fields.List(fields.String())
    labels = fields.List(fields.String())
    share = fields.Float()
    area_m2 = fields.Float()
    rules = fields.Nested(RulesSchema, allow_none=True,
                          metadata={"description": "The stricter rule of the codes, rule by rule"})
    rules_taken = fields.Dict(metadata={"description": "Which code each stricter rule was taken from"})
    buildability = fields.Nested(BuildabilitySchema)


class RemainderSchema(Schema):
    share = fields.Float()
    area_m2 = fields.Float()
    codes = fields.List(fields.String(), metadata={"description": "Codes of the digitising slivers left out"})


class OverlaySchema(Schema):
    plan = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    label = fields.String()
    provision = fields.String(allow_none=True)
    area_m2 = fields.Float()
    share = fields.Float()
    removes_buildable_area = fields.Boolean()


class PlanSchema(Schema):
    name = fields.String()
    title = fields.String()
    version = fields.Integer()
    approval_act = fields.String()
    approval_date = fields.Date()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    status = fields.String()


class NoteParcelSchema(Schema):
    ref = fields.String()
    address = fields.String(allow_none=True)
    quarter = fields.String(allow_none=True)
    area_m2 = fields.Float()
    centroid = fields.Dict()
    centroid_metric = fields.Dict()
    geometry = fields.Dict(metadata={"description": "GeoJSON geometry in WGS84"})


class NoteSchema(Schema):
    """The urban-information note."""

    language = fields.String()
    as_of = fields.Date()
    historical = fields.Boolean()
    generated_at = fields.DateTime()
    parcel = fields.Nested(NoteParcelSchema)
    zones = fields.List(fields.Nested(ZoneSchema))
    zone_overlaps = fields.List(fields.Nested(ZoneOverlapSchema),
                                metadata={"description": "Land under zones of several codes, counted once"})
    remainder = fields.Nested(RemainderSchema, metadata={"description": "Digitising slivers left out of zones"})
    unzoned_share = fields.Float()
    overlays = fields.List(fields.Nested(OverlaySchema))
    buildability = fields.Nested(BuildabilitySchema)
    plans = fields.List(fields.Nested(PlanSchema))
    warnings = fields.List(fields.Dict())


class FeatureSchema(Schema):
    type = fields.String()
    geometry = fields.Dict()
    properties = fields.Dict()


class FeatureCollectionSchema(Schema):
    type = fields.String()
    features = fields.List(fields.Nested(FeatureSchema))


class SuggestionSchema(Schema):
    kind = fields.String(metadata={"description": "parcel, quarter, street or coordinates"})
    label = fields.String()
    ref = fields.String(allow_none=True)
    lon = fields.Float()
    lat = fields.Float()


class SuggestionsSchema(Schema):
    suggestions = fields.List(fields.Nested(SuggestionSchema))
