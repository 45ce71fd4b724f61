"""Icons for the Live Sketch panel (pen, eraser, fill...), drawn in the shipped icons'
style: 24-pixel SVG line art, stroke #d7dde4, width 1.8, round ends. Kept here as
text rather than in ``resources/icons`` because only this panel uses them; icons the
whole app shares (undo, dice, close) come from ``desktop.theme.icon``.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QIcon, QPixmap

from desktop.theme import icon

STROKE = "#d7dde4"
OPEN = ('<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 24 24" fill="none" '
        f'stroke="{STROKE}" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">')
DRAWINGS = {
    "pen": '<path d="M4 20l1.2-4.6L15.6 5a2 2 0 0 1 2.9 0l.5.5a2 2 0 0 1 0 2.9L8.6 18.8z"/>'
           '<path d="M13.8 6.8l3.4 3.4"/>',
    "eraser": '<path d="M8.5 19.5L3.8 14.8a1.8 1.8 0 0 1 0-2.5L12.3 3.8a1.8 1.8 0 0 1 2.5 0l5.4 5.4'
              'a1.8 1.8 0 0 1 0 2.5L12.2 19.5z"/><path d="M7.8 8.4l7.8 7.8"/><path d="M12 19.5h8"/>',
    "fill": '<path d="M5 11l6.5-6.5 7 7L12 18a2 2 0 0 1-2.8 0L5 13.8a2 2 0 0 1 0-2.8z"/><path d="M5 11h13.5"/>'
            '<path d="M19.5 15.5s1.8 2.2 1.8 3.3a1.8 1.8 0 0 1-3.6 0c0-1.1 1.8-3.3 1.8-3.3z"/>',
    "image": '<rect x="3.5" y="4.5" width="17" height="15" rx="2"/><circle cx="9" cy="9.5" r="1.6"/>'
             '<path d="M20.5 15.5l-4.5-4.5-8.5 8.5"/>',
    "clear": '<path d="M4.5 7h15"/><path d="M9.5 7V5a1 1 0 0 1 1-1h3a1 1 0 0 1 1 1v2"/>'
             '<path d="M6.5 7l1 12a1.5 1.5 0 0 0 1.5 1.4h6a1.5 1.5 0 0 0 1.5-1.4l1-12"/>',
    "side-by-side": '<rect x="3" y="5" width="8" height="14" rx="1.5"/>'
                    '<rect x="13" y="5" width="8" height="14" rx="1.5"/>',
    "overlay": '<rect x="3" y="3" width="12" height="12" rx="1.5"/>'
               '<rect x="9" y="9" width="12" height="12" rx="1.5" stroke-dasharray="2 2"/>',
    "pin": '<path d="M9 4h6l-1 6 3 3v2H7v-2l3-3z"/><path d="M12 15v6"/>',
    "graph": '<rect x="3" y="4" width="6" height="5" rx="1"/><rect x="15" y="15" width="6" height="5" rx="1"/>'
             '<path d="M9 6.5h3a2 2 0 0 1 2 2v7a2 2 0 0 0 2 2h-1"/>',
    "timeline": '<path d="M3 6h18"/><rect x="3" y="9" width="9" height="4" rx="1"/>'
                '<rect x="10" y="15" width="11" height="4" rx="1"/><path d="M15 3v18"/>',
    "variations": '<rect x="3" y="3" width="8" height="8" rx="1.5"/>'
                  '<rect x="13" y="3" width="8" height="8" rx="1.5"/>'
                  '<rect x="3" y="13" width="8" height="8" rx="1.5"/>'
                  '<rect x="13" y="13" width="8" height="8" rx="1.5"/>',
    "export": '<path d="M12 4v11"/><path d="M7.5 10.5L12 15l4.5-4.5"/><path d="M4.5 16v3a1.5 1.5 0 0 0 1.5 1.5h12'
              'a1.5 1.5 0 0 0 1.5-1.5v-3"/>',
    "live": '<circle cx="12" cy="12" r="3" fill="#00ffea" stroke="#00ffea"/><path d="M6.3 6.3a8 8 0 0 0 0 11.4"/>'
            '<path d="M17.7 6.3a8 8 0 0 1 0 11.4"/>',
    "refresh": '<path d="M20 11a8 8 0 0 0-14.5-4.5L4 8"/><path d="M4 4v4h4"/><path d="M4 13a8 8 0 0 0 14.5 4.5L20 16"/>'
               '<path d="M20 20v-4h-4"/>',
    "restore": '<path d="M4 12a8 8 0 1 0 2.4-5.7L4 8.5"/><path d="M4 4v4.5h4.5"/><path d="M12 8v4l3 2"/>',
}


@lru_cache(maxsize=None)
def live_icon(name: str) -> QIcon:
    """One of the panel's own icons, or a shared one from ``resources/icons``."""
    drawing = DRAWINGS.get(name)
    if drawing is None:
        return icon(name)
    pixmap = QPixmap()
    pixmap.loadFromData(f"{OPEN}{drawing}</svg>".encode(), "SVG")
    return QIcon(pixmap)
