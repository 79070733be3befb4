"""The rules on land where zones of different codes overlap: the stricter of each.

A plan should not put two zone codes on the same land; when it does, the note states the overlap and applies,
rule by rule, the more restrictive value of the codes there (and says which code each came from):

- lower floor-area ratio (COS), footprint ratio (CES), height and number of floors;
- larger setbacks (front, side, rear), minimum lot area and minimum frontage;
- allowed uses: those every code allows (a code that lists none does not narrow them); forbidden uses: those
  any code forbids;
- parking and other provisions: all of them, each prefixed with its code.

A value a code leaves undefined does not count (the stricter of the defined ones applies); when no code defines
it, it stays undefined. When a code has no rules at all, the overlap has none either (the note says rules are
missing, as for a zone).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gisportal.zoning.rules import Setbacks, Text, ZoneRules

logger = logging.getLogger(__name__)

#: Rules where the lower value is the stricter one.
LOWER = ("cos", "ces", "max_height_m", "max_floors")
#: Rules where the larger value is the stricter one.
LARGER = ("min_lot_area_m2", "min_frontage_m")
SETBACKS = ("front_m", "side_m", "rear_m")


def _pick(values: list[tuple[str, float | None]], lower: bool) -> tuple[float | None, str | None]:
    defined = [(v, code) for code, v in values if v is not None]
    if not defined:
        return None, None
    value = min(v for v, _ in defined) if lower else max(v for v, _ in defined)
    return value, next(code for v, code in defined if v == value)


def _joined(texts: list[tuple[str, Text | None]]) -> Text | None:
    present = [(code, t) for code, t in texts if t is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0][1]
    return Text(fr=" ; ".join(f"{c} : {t.fr}" for c, t in present),
                ar=" ؛ ".join(f"{c}: {t.ar}" for c, t in present),
                en="; ".join(f"{c}: {t.get('en')}" for c, t in present))


def stricter_rules(rules: Sequence[tuple[str, ZoneRules | None]]) -> tuple[ZoneRules | None, dict[str, str]]:
    """The rules of land under all the given ``(code, rules)`` at once, and which code each rule was taken from
    (``{"cos": "R2", "setbacks.front_m": "C-3", ...}``; only the rules some code defines)."""
    if not rules or any(r is None for _, r in rules):
        return None, {}
    known: list[tuple[str, ZoneRules]] = [(c, r) for c, r in rules if r is not None]
    if len(known) == 1:
        return known[0][1], {}
    taken: dict[str, str] = {}
    values: dict[str, object] = {}
    for name in LOWER + LARGER:
        value, code = _pick([(c, getattr(r, name)) for c, r in known], name in LOWER)
        values[name] = value
        if code is not None:
            taken[name] = code
    setbacks: dict[str, float | None] = {}
    for name in SETBACKS:
        value, code = _pick([(c, getattr(r.setbacks, name)) for c, r in known], lower=False)
        setbacks[name] = value
        if code is not None:
            taken[f"setbacks.{name}"] = code
    listing = [set(r.allowed_uses) for _, r in known if r.allowed_uses]
    forbidden = sorted(set().union(*(r.forbidden_uses for _, r in known)))
    allowed = set.intersection(*listing) - set(forbidden) if listing else set()
    first_order = [u for _, r in known for u in r.allowed_uses]
    cos, ces = values["cos"], values["ces"]
    if cos is not None and ces is not None and cos < ces:  # type: ignore[operator]
        values["ces"] = cos  # the footprint cannot exceed the floor area allowed
        taken["ces"] = taken["cos"]
    codes = " + ".join(c for c, _ in known)
    combined = ZoneRules(
        label=Text(fr=f"Chevauchement {codes}", ar=f"تداخل {codes}", en=f"Overlap {codes}"),
        color=known[0][1].color,
        allowed_uses=tuple(dict.fromkeys(u for u in first_order if u in allowed)),
        forbidden_uses=tuple(forbidden),
        setbacks=Setbacks(**setbacks),
        parking=_joined([(c, r.parking) for c, r in known]),
        provisions=_joined([(c, r.provisions) for c, r in known]),
        **values,
    )
    return combined, taken
