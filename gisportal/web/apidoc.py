"""OpenAPI-documented API views without flask-smorest's per-request wrappers.

flask-smorest documents a view through decorators (``blp.arguments``, ``blp.alt_response``) that also wrap it:
each wrapper calls ``current_app.ensure_sync`` on every request, and ``blp.arguments`` parses the query through
webargs and a full marshmallow ``load``. On the busiest endpoint (the note, ``GET /api/v1/notes``) those layers
cost about as much as finding the parcel. The helpers here keep the document generated from the same decorators
and schemas (flask-smorest reads the ``_apidoc`` they leave on the function) while the view runs unwrapped:

* :func:`documented` applies the decorators only for the ``_apidoc`` they record;
* :func:`query_arguments` documents a query schema exactly as ``blp.arguments(schema, location="query")`` does
  and loads the query with the schema's own fields, one by one (same conversions, validators and defaults);
  any invalid value hands the request to webargs, which answers the usual 422 with every message.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, missing
from marshmallow.fields import Field

logger = logging.getLogger(__name__)


def documented(*decorators: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[..., Any]:
    """Document a view with flask-smorest decorators, keeping the view itself unwrapped.

    Only for decorators that add nothing at run time but a call through ``current_app.ensure_sync``
    (``blp.alt_response``, ``blp.doc``) on a plain (not ``async``) view.
    """
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = func
        for apply in reversed(decorators):
            wrapped = apply(wrapped)
        func._apidoc = getattr(wrapped, "_apidoc", {})  # type: ignore[attr-defined]
        return func

    return decorator


def _plain_value(field: Field, raw: str) -> Any:
    """What ``field.deserialize(raw)`` gives for a query string, for the plainest fields, else ``missing``.

    A ``Float`` is ``float(raw)``, finite unless NaN is allowed; a ``String`` is the text itself; then the
    field's validators. Marshmallow builds a validator chain per call, which costs more than the parsing. Any
    other field, or a value any of this refuses, answers ``missing``: the field's own ``deserialize`` decides.
    """
    if type(field) is fields.Float:
        try:
            value: Any = float(raw)
        except (TypeError, ValueError, OverflowError):
            return missing
        if not field.allow_nan and not math.isfinite(value):
            return missing
    elif type(field) is fields.String:
        value = raw
    else:
        return missing
    try:
        if any(check(value) is False for check in field.validators):
            return missing
    except ValidationError:
        return missing
    return value


class QueryLoader:
    """Loads a request's query with a flat schema: the same result as webargs' ``parse(schema, location="query")``
    (unknown keys ignored, the first of repeated keys used, defaults for absent fields), field by field."""

    def __init__(self, schema: Schema, parser: Any) -> None:
        if any(schema._hooks.values()):  # pre/post-load or schema-level validators
            raise TypeError(f"{type(schema).__name__} has hooks: use blp.arguments")
        self.schema, self.parser = schema, parser
        self.fields: dict[str, tuple[str, Field]] = {}  # query key -> (result key, field)
        self.required: set[str] = set()
        self.defaults: list[tuple[str, Any]] = []  # (result key, load_default) of optional fields that have one
        for name, field in schema.load_fields.items():
            if getattr(field, "is_multiple", False):
                raise TypeError(f"{type(schema).__name__}.{name} takes several values: use blp.arguments")
            key, attribute = field.data_key or name, field.attribute or name
            self.fields[key] = (attribute, field)
            if field.required:
                self.required.add(key)
            elif field.load_default is not missing:
                self.defaults.append((attribute, field.load_default))

    def load(self) -> dict[str, Any]:
        """The loaded query; on an invalid value or a required one missing, webargs parses the request again and
        raises its usual error (a 422 listing every invalid parameter)."""
        args = request.args
        loaded = {attribute: default() if callable(default) else default for attribute, default in self.defaults}
        try:
            if self.required and not self.required.issubset(args.keys()):
                raise ValidationError("missing")
            for key in args:
                known = self.fields.get(key)
                if known is not None:
                    attribute, field = known
                    raw = args[key]
                    value = _plain_value(field, raw)
                    loaded[attribute] = field.deserialize(raw, key, args) if value is missing else value
        except ValidationError:
            return self.parser.parse(self.schema, request, location="query")
        return loaded


def query_arguments(blp: Blueprint, schema: Schema) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Like ``blp.arguments(schema, location="query")`` (same document, same arguments, same errors), faster.

    The view gets the loaded arguments as its first argument after ``self``/before the URL's.
    """
    loader = QueryLoader(schema, blp.ARGUMENTS_PARSER)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def view(*args: Any, **kwargs: Any) -> Any:
            return func(*args, loader.load(), **kwargs)

        # flask-smorest reads the documentation a view function carries in its _apidoc attribute
        view._apidoc = getattr(blp.arguments(schema, location="query")(func), "_apidoc", {})  # type: ignore[attr-defined]
        return view

    return decorator
