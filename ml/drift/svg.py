"""Small inline SVG charts (reference vs current) for the HTML report: no scripts, no external assets."""

from __future__ import annotations

from html import escape

REFERENCE_COLOUR = "#8c96a5"
CURRENT_COLOUR = "#e8590c"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _percent(share: float) -> str:
    return f"{share:.1%}" if share >= 0.001 or share == 0 else "<0.1%"


def _number(value: float) -> str:
    return f"{value:.4g}"


def legend(x: float, y: float) -> str:
    items = []
    for offset, (colour, label) in enumerate(((REFERENCE_COLOUR, "reference"), (CURRENT_COLOUR, "current"))):
        left = x + offset * 90
        items.append(f'<rect x="{left}" y="{y - 9}" width="10" height="10" fill="{colour}" fill-opacity="0.7"/>'
                     f'<text x="{left + 14}" y="{y}" {FONT}>{label}</text>')
    return "".join(items)


def histogram(title: str, edges: list[float], reference: list[float], current: list[float],
              width: int = 560, height: int = 220) -> str:
    """Overlaid histograms of two samples on shared bins, bar heights as shares of each side's rows."""
    left, right, top, bottom = 48, 12, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    bins = len(reference)
    peak = max([*reference, *current, 1e-12])
    parts = [_open(title, width, height), legend(left, 14)]
    for index in range(bins):
        x = left + plot_w * index / bins
        bar_w = max(plot_w / bins - 1, 1)
        span = f"{_number(edges[index])} to {_number(edges[index + 1])}"
        for share, colour, side in ((reference[index], REFERENCE_COLOUR, "reference"),
                                    (current[index], CURRENT_COLOUR, "current")):
            bar_h = plot_h * share / peak
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" '
                         f'height="{bar_h:.1f}" fill="{colour}" fill-opacity="0.55">'
                         f"<title>{escape(side)} {escape(span)}: {_percent(share)}</title></rect>")
    parts.append(_axes(left, top, plot_w, plot_h))
    for fraction in (0.0, 0.5, 1.0):
        value = edges[0] + (edges[-1] - edges[0]) * fraction
        anchor = {0.0: "start", 0.5: "middle", 1.0: "end"}[fraction]
        parts.append(f'<text x="{left + plot_w * fraction:.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}" '
                     f"{FONT}>{escape(_number(value))}</text>")
    parts.append(f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" {FONT}>{_percent(peak)}</text>'
                 f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" {FONT}>0</text>')
    parts.append("</svg>")
    return "".join(parts)


LABEL_CHARS = 22


def grouped_bars(title: str, labels: list[str], reference: list[float], current: list[float],
                 marks: list[bool] | None = None, width: int = 560) -> str:
    """Horizontal bars, one pair (reference, current) per label; marked labels are flagged as new."""
    row_h, label_w, value_w, top = 30, 150, 110, 26
    height = top + row_h * len(labels) + 8
    plot_w = width - label_w - value_w
    peak = max([*reference, *current, 1e-12])
    marks = marks or [False] * len(labels)
    parts = [_open(title, width, height), legend(label_w, 14)]
    for index, label in enumerate(labels):
        y = top + index * row_h
        suffix = " (new)" if marks[index] else ""
        room = LABEL_CHARS - len(suffix)  # what fits left of the bars at 11 px, the suffix included
        shown = label if len(label) <= room else label[:room - 1] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" {FONT}>'
                     f"<title>{escape(label)}</title>{escape(shown + suffix)}</text>")
        for offset, (share, colour, side) in enumerate(((reference[index], REFERENCE_COLOUR, "reference"),
                                                        (current[index], CURRENT_COLOUR, "current"))):
            bar_w = plot_w * share / peak
            parts.append(f'<rect x="{label_w}" y="{y + 3 + offset * 12}" width="{max(bar_w, 0.5):.1f}" height="11" '
                         f'fill="{colour}" fill-opacity="0.75"><title>{escape(side)} {escape(label)}: '
                         f"{_percent(share)}</title></rect>")
        parts.append(f'<text x="{width - value_w + 8}" y="{y + 17}" {FONT}>'
                     f"{_percent(reference[index])} → {_percent(current[index])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>')


def _axes(left: float, top: float, plot_w: float, plot_h: float) -> str:
    return (f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>')
