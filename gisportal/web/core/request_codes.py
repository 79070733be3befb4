"""The secret code an API call carries to open what it names (an order's access code, a complaint's secret code,
a permit file's personal code): in a request header, which web server access logs do not keep, or in a query
parameter. One declaration gives both to the OpenAPI document and reads the code from either.

Usage (flask-smorest)::

    ACCESS_CODE = RequestCode("t", "X-Access-Code", "The order's access code")

    @blp.arguments(ACCESS_CODE.query_schema(), location="query")
    @blp.arguments(ACCESS_CODE.header_schema(), location="headers")
    def view(args, headers, reference):
        code = ACCESS_CODE.read(args, headers)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_smorest import abort
from marshmallow import EXCLUDE, Schema, fields, validate


class _Headers(Schema):
    class Meta:
        unknown = EXCLUDE  # every other request header


@dataclass(frozen=True)
class RequestCode:
    """A kind of secret code: its query parameter, its header (preferred) and what it is, for the documentation."""

    query: str
    header: str
    what: str
    max_length: int = 64

    def query_field(self) -> fields.String:
        """The query parameter, for a schema that has other parameters too (its name must be :attr:`query`)."""
        return fields.String(validate=validate.Length(min=1, max=self.max_length),
                             metadata={"description": f"{self.what}; better sent in the {self.header} header, "
                                                      "which access logs do not keep"})

    def query_schema(self) -> Schema:
        """Query arguments holding the code alone."""
        return Schema.from_dict({self.query: self.query_field()}, name=f"{self.header.replace('-', '')}Query")()

    def header_schema(self) -> Schema:
        """The request header (loaded as ``code``; the other headers are left out)."""
        code = fields.String(data_key=self.header, validate=validate.Length(min=1, max=self.max_length),
                             metadata={"description": f"{self.what} (instead of ``{self.query}``)"})
        return _Headers.from_dict({"code": code}, name=f"{self.header.replace('-', '')}Header")()

    def read(self, query: Mapping[str, Any], headers: Mapping[str, Any]) -> str:
        """The code from the header, else the query parameter; a 422 naming both when neither has it."""
        code = headers.get("code") or query.get(self.query)
        if not code:
            abort(422, messages={"query": {self.query: [
                f"Missing: send it in the {self.header} header (or as {self.query})."]}})
        return str(code)
