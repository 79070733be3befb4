"""Typed instance settings, read from ``GISPORTAL_*`` environment variables.

Everything that ties a deployment to a place (data directory, metric CRS,
languages, base map) is configuration, not code.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gisportal.core.resources import data_file

logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Settings of one portal instance; each field maps to ``GISPORTAL_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GISPORTAL_", extra="ignore")

    data_dir: Path = Field(Path("instance"), description="Directory holding the instance's store and keys; a "
                                                          "relative one is made absolute once, when settings load.")
    storage: str | None = Field(
        None, description="Storage backend name (embedded, postgis); default postgis when database_url is set."
    )
    database_url: str | None = Field(None, description="Database URL for a database backend.")
    # Scaling out (gisportal.storage.postgis.replicas): anonymous reads on streaming replicas, writes on the primary.
    database_read_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Streaming replicas of the primary, comma-separated URLs (reads only).")
    database_transaction_pooling: bool = Field(
        False, description="The database URLs go through a pooler in transaction mode (PgBouncer "
                           "pool_mode=transaction): no server-side prepared statements.")
    database_read_max_lag_seconds: float = Field(
        5.0, gt=0, description="A replica behind the last write seen for longer than this is reported lagging.")
    database_read_retry_seconds: float = Field(
        10.0, ge=0, description="How long a replica that failed is left aside before it is tried again.")
    # Static vector tiles (gisportal.zoning.archives): PMTiles archives of the versions in force on a static host.
    tiles_dir: Path | None = Field(None, description="Where the app writes the PMTiles archives after each "
                                                     "publication (off when unset).")
    tiles_url: str | None = Field(None, description="Base URL the archives are served from (by range requests); "
                                                    "the map reads them instead of /tiles/ when set.")
    crs: str | None = Field(
        None, description="Metric CRS of the instance (e.g. EPSG:26191); taken from the data when unset."
    )
    rules_file: Path = Field(default_factory=lambda: data_file("rules.yaml"), description="Rules catalogue (YAML).")
    # NoDecode: the variable is "fr,ar,en" (split below), not JSON, which pydantic-settings would expect.
    languages: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["fr", "ar", "en"])
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], description="Origins whose scripts may read the public API's anonymous GET "
                                                   "answers (comma-separated; * for any; empty for none).")
    default_language: str = "fr"
    agency_name_fr: str = "Agence urbaine"
    agency_name_ar: str = "الوكالة الحضرية"
    agency_name_en: str = "Urban agency"
    basemap_url: str | None = Field(
        None, description="Optional XYZ tile URL template for a base map (off when unset)."
    )
    basemap_attribution: str = ""
    max_features_per_request: int = Field(3000, ge=1)
    open_data_licence: str = Field("CC-BY-4.0", description="Licence of the downloadable plans and OGC API data.")
    site_max_parcels: int = Field(500, ge=1, description="Most parcels a site note may cover.")
    site_max_vertices: int = Field(10_000, ge=4, description="Most vertices of a drawn or uploaded site.")
    site_max_area_m2: float = Field(2_000_000.0, gt=0, description="Largest site area (m²) a site note accepts.")
    reload_check_seconds: float = Field(1.0, ge=0,
                                       description="How often the rules catalogue is checked (data: each request).")
    secret_key: str | None = None
    public_url: str | None = Field(
        None, description="Public base URL of absolute links (e.g. https://nru.example.ma); when unset, http:// and "
                          "the first trusted host (never the request's Host)."
    )
    # Hardening (gisportal.web.core.security): hosts answered, proxies trusted, request sizes.
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host names answered (comma-separated); default: the public URL's host "
                                          "and localhost. Requests for any other Host get a 400.")
    proxy_hops: int = Field(0, ge=0, le=5, description="Reverse proxies in front of the app whose X-Forwarded-For "
                                                       "and X-Forwarded-Proto are trusted (0: none, no ProxyFix).")
    max_request_bytes: int = Field(128 * 1024 * 1024, ge=1024,
                                   description="Largest request body (planners' uploads); forms have smaller limits.")
    # Outside vector files (gisportal.core.vector_child): read in a child process within these limits.
    upload_read_seconds: float = Field(120.0, gt=0, le=3600, description="Longest read of one uploaded layer "
                                                                         "(wall clock); then it is stopped.")
    upload_read_memory_bytes: int = Field(3 * 1024**3, ge=256 * 1024**2,
                                          description="Address space of the process reading an uploaded layer.")
    upload_max_vertices: int = Field(5_000_000, ge=4, description="Most vertices in one uploaded layer.")
    staff_token: str | None = Field(None, description="Bearer token of GET /api/v1/registry (pages use accounts).")
    ratelimit_storage_uri: str | None = Field(
        None, description="Where throttling counts attempts: by default a file in the data directory shared by "
                          "every worker of this machine; redis://host:6379 or memcached://host:11211 share it "
                          "between machines; memory:// counts per process.")
    login_rate_limit: str = Field("5 per minute", description="Sign-in attempts allowed per client address.")
    wrong_code_rate_limit: str = Field("20 per hour;50 per day",
                                       description="Failed checks of a complaint, order or receipt code per client "
                                                   "address (each costs a slow hash); then 429 before any check.")
    note_issue_rate_limit: str = Field("20 per day", description="New official notes issued per client address.")
    note_issue_parcel_limit: str = Field("10 per day", description="New official notes issued per parcel (each "
                                                                   "distinct date or content is a new note).")
    form_rate_limit: str = Field("10 per hour;30 per day",
                                 description="Public form submissions (complaints, subscriptions...) per client "
                                             "address.")
    lookup_rate_limit: str = Field("30 per hour;100 per day",
                                   description="Look-ups of a permit file by number and personal code per client "
                                               "address (page and API).")
    # Notifications (gisportal.core.notifications): "log" writes a line per message (no addresses); "smtp" sends mail.
    note_requires_payment: bool = Field(
        False, description="The official (sealed, numbered) note PDF is delivered only through a paid order; the "
                           "note page and JSON stay free for information; signed-in staff are exempt.")
    note_sliver_share: float = Field(
        0.001, ge=0, le=0.1, description="A zone covering less than this share of a parcel is a digitising sliver: "
                                         "left out of the note's zones, counted in its stated remainder.")
    note_sliver_area_m2: float = Field(
        1.0, ge=0, le=1000, description="Likewise for a zone covering less than this area (m²) of a parcel.")
    notify_sender: str = Field("log", description="How notifications leave: log or smtp.")
    overlap_tolerance_m2: float = Field(5.0, ge=0, description="Overlaps and gaps between zones of an uploaded "
                                                              "layer smaller than this are warnings, not blocking.")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    mail_from: str = Field("noreply@agence-urbaine.invalid", description="Sender address of notifications.")
    # Payments (gisportal.services.payments.orders): the fee schedule file, the provider by name, its callback HMAC
    # secret.
    fees_file: Path = Field(default_factory=lambda: data_file("fees.yaml"), description="Default fee schedule (YAML).")
    payment_provider: str = Field("sandbox", description="Payment provider by name (sandbox).")
    payment_hmac_secret: str | None = Field(
        None, description="HMAC-SHA256 secret of payment callbacks; generated into <data_dir> when unset.")
    # Complaints (gisportal.services.complaints.handling)
    complaint_deadline_days: int = Field(30, ge=1, le=3650,
                                         description="Days the agency has to answer a complaint before it is overdue.")
    complaint_attachment_max_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest attachment accepted.")
    complaint_attachments_max_total_bytes: int = Field(15 * 1024 * 1024, ge=1024,
                                                       description="Largest total of one submission's attachments.")

    # Document library (gisportal.services.library.documents) and help/contact page (gisportal.services.contact).
    library_max_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Largest document file staff may add.")
    contact_file: Path = Field(default_factory=lambda: data_file("contact.yaml"),
                               description="The agency's phone lines, hours, addresses, social accounts, posters.")

    @field_validator("database_read_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Resolved against the working directory once, at start-up: later code (Flask's send_file, which resolves
        # relative paths against the app's package) never sees a relative one.
        return Path(os.path.abspath(value.expanduser()))

    @field_validator("languages", "trusted_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):  # a JSON list, as accepted before
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def store_path(self) -> Path:
        """Path of the embedded store file."""
        return self.data_dir / "gisportal.gpkg"


def load_settings(overrides: dict | None = None) -> Settings:
    """Settings from the environment, with ``overrides`` (e.g. from tests) on top."""
    return Settings(**(overrides or {}))
