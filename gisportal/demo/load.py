"""Loading the generated demo district into a store, through the same store API as real imports."""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from gisportal.demo.city import NAMES, generate_demo_city
from gisportal.services.library.documents import DocumentMeta, Library
from gisportal.storage import open_agency
from gisportal.storage.base import NewPlanVersion, Store
from gisportal.zoning.plans import versions_in_force
from gisportal.zoning.quarter_names import META_KEY, STREETS_META_KEY, arabic_names, arabic_street_names
from gisportal.zoning.rules import load_catalogue
from gisportal.zoning.tiles import TILE_LAYERS

if TYPE_CHECKING:
    from gisportal.core.settings import Settings

logger = logging.getLogger(__name__)


def warm_tiles(store: Store, layers: tuple[str, ...] = TILE_LAYERS) -> None:
    """Build (or check) the vector tiles of the versions in force, so the first visitor does not wait."""

    versions = sorted(v.id for v in versions_in_force(store.plan_versions(), date.today()))
    for layer in layers:
        store.tile(layer, 0, 0, 0, versions)


#: The Arabic text of the demo plan's approval decrees (the note in Arabic shows it).
APPROVAL_ACTS_AR = {"Décret n° 2-13-512 du 12 juin 2013": "مرسوم رقم 2.13.512 صادر في 12 يونيو 2013",
                    "Décret n° 2-23-301 du 4 mai 2023": "مرسوم رقم 2.23.301 صادر في 4 ماي 2023"}


def demo_streets(addresses: pd.Series) -> set[str]:
    """The streets of the demo's addresses ("12 Rue Ibn Battouta" -> "Rue Ibn Battouta")."""
    return set(addresses.dropna().astype(str).str.replace(r"^\d+\s+", "", regex=True))


def demo_meta(quarters: set[str], streets: set[str]) -> dict[str, str]:
    """The demo's territory, the Arabic names of its quarters and streets and of its approval decrees."""
    return {"territory_fr": NAMES[0], "territory_ar": NAMES[1], "territory_en": NAMES[0],
            META_KEY: json.dumps(arabic_names(quarters), ensure_ascii=False),
            STREETS_META_KEY: json.dumps(arabic_street_names(streets), ensure_ascii=False),
            "approval_acts_ar": json.dumps(APPROVAL_ACTS_AR, ensure_ascii=False)}


def load_demo(store: Store, n_parcels: int = 6000, seed: int = 2026) -> dict[str, int]:
    """Generate the demo district and publish both plan versions and the parcels into ``store``."""
    started = time.perf_counter()
    city = generate_demo_city(n_parcels=n_parcels, seed=seed)
    logger.info("demo city generated in %.1f s", time.perf_counter() - started)
    store.put_parcels(city.parcels)
    for version in city.versions:
        new = NewPlanVersion(city.plan_name, city.plan_title_fr, city.plan_title_ar, version.approval_act,
                             version.approval_date, version.approval_date)
        store.publish_plan_version(new, version.zones, version.overlays)
    store.set_meta(demo_meta(set(city.parcels["quarter"]), demo_streets(city.parcels["address"])))
    warm_tiles(store)
    logger.info("demo loaded in %.1f s: %s", time.perf_counter() - started, store.counts())
    return store.counts()


def load_demo_library(settings: Settings, store: Store) -> int:
    """Add the demo plan's regulation (French and Arabic pages, from the rules catalogue) and a law to the
    document library, once; returns how many documents the library holds."""
    from weasyprint import HTML  # seconds to import: only when the demo prints its documents

    agency = open_agency(settings, store)
    try:
        library = Library(agency, settings.data_dir / "library", settings.library_max_bytes)
        held = library.search(limit=1)[1]
        plans = store.plans()
        if held or not plans:
            return held
        plan, catalogue = plans[0], load_catalogue(settings.rules_file)

        def page(lang: str, title: str, intro: str) -> str:
            rows = "".join(
                f"<tr><td>{escape(code)}</td><td>{escape(z.label.get(lang))}</td><td>{z.cos or '—'}</td>"
                f"<td>{z.ces or '—'}</td><td>{z.max_height_m or '—'}</td></tr>" for code, z in catalogue.zones.items())
            direction = "rtl" if lang == "ar" else "ltr"
            return (f'<section dir="{direction}" lang="{lang}" style="page-break-after: always"><h1>{escape(title)}'
                    f"</h1><p>{escape(intro)}</p><table>{rows}</table></section>")

        regulation = HTML(string=page(
            "fr", f"Règlement d'aménagement — {plan.title_fr}",
            "Le présent règlement fixe, pour chaque zone, le coefficient d'occupation du sol (COS), le coefficient "
            "d'emprise au sol (CES) et la hauteur maximale des constructions.") + page(
            "ar", f"نظام التهيئة — {plan.title_ar}",
            "يحدد هذا النظام لكل منطقة معامل استعمال الأرض ومعامل استيلاء البناء على الأرض والعلو الأقصى للبنايات."),
        ).write_pdf()
        law = HTML(string="<h1>Loi n° 12-90 relative à l'urbanisme</h1><p>Le plan d'aménagement produit ses effets "
                          "pendant dix ans à compter de la publication au Bulletin officiel du texte "
                          "l'approuvant.</p><p dir=\"rtl\">ينتهي أثر تصميم التهيئة عند انصرام عشر سنوات من تاريخ "
                          "نشر النص القاضي بالموافقة عليه في الجريدة الرسمية.</p>").write_pdf()
        library.add(regulation, "reglement.pdf", DocumentMeta(
            "plan_regulation", f"Règlement d'aménagement — {plan.title_fr}", f"نظام التهيئة — {plan.title_ar}",
            f"RA-{plan.name}", plan_name=plan.name), "demo")  # a code, not a French word on Arabic pages
        library.add(law, "loi-12-90.pdf", DocumentMeta(
            "law", "Loi n° 12-90 relative à l'urbanisme", "القانون رقم 12.90 المتعلق بالتعمير", "12-90"), "demo")
        return library.search(limit=1)[1]
    finally:
        agency.close()
