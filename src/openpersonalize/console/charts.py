"""Charts drawn on the server as SVG: a few small functions, no chart library and nothing to download.

Each returns ``Markup`` with every label escaped (labels are user data: event types, item ids).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH = 16, 8, 300
BLUE, GREY, INK = "#2f6fb3", "#b9c2cc", "#1d2733"


def _svg(width: int, height: int, body: str, title: str) -> Markup:
    return Markup(f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                  f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>')


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def rows(pairs: Sequence[Sequence[object]]) -> list[tuple[str, float, float | None]]:
    """[label, value] pairs (as stored in JSON) as bar rows without a baseline."""
    return [(str(label), float(value), None) for label, value in pairs]  # type: ignore[arg-type]


def bars(rows: Sequence[tuple[str, float, float | None]], title: str, *, scale: float | None = None,
         legend: tuple[str, str] | None = None) -> Markup:
    """Horizontal bars, one row per (label, value, baseline or None); the baseline is a thin grey bar below."""
    top = scale or max([1e-12, *(v for _, v, _ in rows), *(b for _, _, b in rows if b is not None)])
    span = WIDTH - LABEL_WIDTH - 60
    parts, y = [], 4
    for label, value, baseline in rows:
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 12}" text-anchor="end" font-size="11" fill="{INK}">{escape(label)}</text>')
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{max(1.0, span * value / top):.1f}" height="{BAR_HEIGHT - 4}" fill="{BLUE}"/>')
        parts.append(f'<text x="{LABEL_WIDTH + span * value / top + 4:.1f}" y="{y + 10}" font-size="11" fill="{INK}">{_number(value)}</text>')
        if baseline is not None:
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + BAR_HEIGHT - 3}" width="{max(1.0, span * baseline / top):.1f}" height="5" fill="{GREY}"/>')
            y += 6
        y += BAR_HEIGHT + BAR_GAP
    if legend is not None:
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="10" height="10" fill="{BLUE}"/>'
                     f'<text x="{LABEL_WIDTH + 14}" y="{y + 11}" font-size="11">{escape(legend[0])}</text>'
                     f'<rect x="{LABEL_WIDTH + 170}" y="{y + 2}" width="10" height="10" fill="{GREY}"/>'
                     f'<text x="{LABEL_WIDTH + 184}" y="{y + 11}" font-size="11">{escape(legend[1])}</text>')
        y += 18
    return _svg(WIDTH, y + 4, "".join(parts), title)


def columns(values: Sequence[float], title: str, *, first: str = "", last: str = "", height: int = 120) -> Markup:
    """Vertical columns (a histogram or a time series), with the first and last x labels under the axis."""
    if not values:
        return _svg(WIDTH, 30, '<text x="4" y="18" font-size="12">no data</text>', title)
    top = max(max(values), 1e-12)
    step = (WIDTH - 50) / len(values)
    parts = [f'<text x="0" y="12" font-size="11" fill="{INK}">{_number(top)}</text>',
             f'<line x1="44" y1="{height}" x2="{WIDTH}" y2="{height}" stroke="{GREY}"/>']
    for i, value in enumerate(values):
        h = (height - 16) * value / top
        parts.append(f'<rect x="{46 + i * step:.1f}" y="{height - h:.1f}" width="{max(step - 1, 0.6):.1f}" height="{h:.1f}" fill="{BLUE}"/>')
    parts.append(f'<text x="46" y="{height + 14}" font-size="11">{escape(first)}</text>')
    parts.append(f'<text x="{WIDTH}" y="{height + 14}" font-size="11" text-anchor="end">{escape(last)}</text>')
    return _svg(WIDTH, height + 20, "".join(parts), title)


def curve(points: Sequence[tuple[float, float]], title: str, *, x_label: str = "epoch", height: int = 140) -> Markup:
    """A line through (x, y) points with dots, y from its own min to max (a validation metric as it trains)."""
    if not points:
        return _svg(WIDTH, 30, '<text x="4" y="18" font-size="12">no validation scores reported yet</text>', title)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y0, y1 = min(ys), max(max(ys), min(ys) + 1e-9)
    def at(x: float, y: float) -> tuple[float, float]:
        return 50 + (WIDTH - 70) * (x - x0) / (x1 - x0), height - 20 - (height - 36) * (y - y0) / (y1 - y0)
    coords = [at(x, y) for x, y in points]
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
    parts = [f'<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="2"/>',
             *(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{BLUE}"/>' for px, py in coords),
             f'<text x="0" y="14" font-size="11">{_number(y1)}</text>',
             f'<text x="0" y="{height - 20}" font-size="11">{_number(y0)}</text>',
             f'<text x="{WIDTH - 20}" y="{height - 4}" font-size="11" text-anchor="end">{escape(x_label)} {_number(x1)}</text>']
    return _svg(WIDTH, height, "".join(parts), title)


def progress(percent: float | None, title: str = "progress") -> Markup:
    """A progress bar; an unknown percentage draws an empty bar."""
    done = max(0.0, min(100.0, percent or 0.0))
    body = (f'<rect x="0" y="0" width="{WIDTH}" height="18" rx="4" fill="#e6ebf0"/>'
            f'<rect x="0" y="0" width="{WIDTH * done / 100:.1f}" height="18" rx="4" fill="{BLUE}"/>'
            f'<text x="{WIDTH / 2}" y="13" font-size="12" text-anchor="middle" fill="{INK}">{done:.0f} %</text>')
    return _svg(WIDTH, 18, body, title)
