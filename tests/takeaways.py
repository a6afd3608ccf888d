"""Checks that a notebook's takeaways quote only figures its outputs print, and quote their spread."""
import re

TAKEAWAY = "## What to take away"
# a figure: $12.34, 0.92, 58.1%, 3.18x, 450 ms, or a range of them (1.2-1.6x); bare integers are counts or names
FIGURE = re.compile(r"(?<![\w.])(\$?)(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?\s?(%|x\b|ms\b|s\b)?")
# figures the course quotes from the teaching material or defines, not measures: the 70-80/15-25/2-5 band,
# its 5-10x, the 100-300 ms first token, the 95%-of-best quality floor
STATED = {"70", "80", "15", "25", "2", "5", "10", "100", "300", "95"}
NOT_FIGURES = re.compile(r"`[^`]*`|\b(?:sections?|notebooks?|Q)\s+\d+(?:\s+and\s+\d+)?")
SPREAD_CALLS = re.compile(r"\b(evaluate_splits|over_seeds)\(")


def printed_forms(number: str, unit: str) -> list:
    """How a figure may be printed: as written, a share as a fraction (58.1% as 0.581), a fraction as a share."""
    forms = [number]
    digits = len(number.split(".")[1]) if "." in number else 0
    if unit == "%":
        forms.append(f"{float(number) / 100:.{digits + 2}f}")
    elif float(number) < 1 and digits >= 2:
        forms.append(f"{float(number) * 100:.{digits - 2}f}")
    return forms


def _shown(cell) -> str:
    """What a code cell shows: its source (parameters are visible) and every output it printed."""
    outputs = "".join(o.get("text", "") + "".join(str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
                      for o in cell.outputs)
    return cell.source + outputs


def quoted_figures(prose: str) -> list:
    """(as written, number, unit) for each figure in a takeaway, stated ones left out."""
    out = []
    for m in FIGURE.finditer(NOT_FIGURES.sub("", prose)):
        dollar, first, second, unit = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        if not (dollar or unit or "." in first):
            continue
        out += [(m.group(0).strip(), n, unit) for n in (first, second) if n and (dollar or n not in STATED)]
    return out


def unprinted_takeaway_figures(nb) -> list:
    """Figures a takeaway quotes that no cell above it shows: text written for other numbers."""
    missing, shown = [], ""
    for cell in nb.cells:
        if cell.cell_type == "code":
            shown += _shown(cell)
        elif cell.source.lstrip().startswith(TAKEAWAY):
            missing += [written for written, number, unit in quoted_figures(cell.source)
                        if not any(re.search(rf"(?<![\d.]){re.escape(f)}(?!\d)", shown)
                                   for f in printed_forms(number, unit))]
    return missing


def spread_unquoted(nb) -> bool:
    """True when a notebook with takeaways measures a spread (over splits or seeds) but quotes none there (±)."""
    measures = any(c.cell_type == "code" and SPREAD_CALLS.search(c.source) for c in nb.cells)
    takeaways = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.lstrip().startswith(TAKEAWAY)]
    return measures and bool(takeaways) and not any("±" in t for t in takeaways)
