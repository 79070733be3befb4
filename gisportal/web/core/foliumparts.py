"""The parts of a rendered folium figure that our pages embed, made fit for them.

folium's map template adds its own ``<meta name="viewport" ... user-scalable=no>`` to the page's head, which
forbids zooming on phones (WCAG 1.4.4); our ``base.html`` already declares a viewport that allows it, so the
map's one is left out.
"""

from __future__ import annotations

import re

from branca.element import Figure

_VIEWPORT = re.compile(r"<meta\s+name=[\"']viewport[\"'][^>]*>", re.IGNORECASE | re.DOTALL)


def header_html(root: Figure) -> str:
    """The figure's rendered ``<head>`` content without folium's zoom-blocking viewport."""
    return _VIEWPORT.sub("", root.header.render())
