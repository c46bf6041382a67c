"""The book's matplotlib style: one look on every page, legible in light and dark mode."""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

#: Okabe & Ito's colour-blind-safe palette (black omitted), in the order the book uses it.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
)

_RC: dict[str, object] = {
    # An opaque white canvas with dark ink: a transparent figure with black text vanishes on the
    # site's dark background, a white panel stays readable in both themes.
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "text.color": "#222222",
    "axes.labelcolor": "#222222",
    "axes.edgecolor": "#444444",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


def use_book_style(*, font_scale: float = 1.0) -> None:
    """Apply the book's figure style to matplotlib's global settings.

    Parameters
    ----------
    font_scale:
        Multiplies every font size (for slides or small screens); must be positive.

    Examples
    --------
    >>> use_book_style()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["figure.facecolor"]
    'white'
    """
    if isinstance(font_scale, bool) or not isinstance(font_scale, (int, float)):
        raise TypeError(f"font_scale must be a number, got {type(font_scale).__name__}")
    if not font_scale > 0:
        raise ValueError(f"font_scale must be positive, got {font_scale}")
    rc = dict(_RC)
    for key in ("font.size", "axes.titlesize", "axes.labelsize", "legend.fontsize"):
        rc[key] = float(rc[key]) * font_scale  # type: ignore[arg-type]
    mpl.rcParams.update(rc)
