"""Run inside an executed notebook's kernel: list the drawn axes that lack a title or an axis label."""
import matplotlib.pyplot as plt


def unlabelled_axes() -> list:
    """'figure N axes i: no ...' for each axes with data but no title or axis label (a sharing axes may carry it)."""
    problems = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
        drawn = [ax for ax in fig.axes if ax.get_visible() and (ax.lines or ax.patches or ax.collections or ax.images)]
        for i, ax in enumerate(drawn):
            xs = ax.get_shared_x_axes().get_siblings(ax)
            ys = ax.get_shared_y_axes().get_siblings(ax)
            missing = [name for name, ok in [
                ("title", suptitle or any(a.get_title() or a.get_title("left") for a in xs)),  # twins, panels
                ("x label", any(a.get_xlabel() for a in xs)),
                ("y label", any(a.get_ylabel() for a in ys))] if not ok]
            if missing:
                problems.append(f"figure {num} axes {i} ({ax.get_title()[:40]!r}): no {', '.join(missing)}")
    return problems


def drawn_texts(fig) -> list:
    """The visible, non-empty Text artists the last draw put on the figure (tick labels only of drawn ticks)."""
    from matplotlib.text import Text

    ticks, drawn = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            every = axis.get_major_ticks() + axis.get_minor_ticks()
            ticks |= {id(lab) for t in every for lab in (t.label1, t.label2)}
            if ax.get_visible() and axis.get_visible():
                drawn |= {id(lab) for t in axis._update_ticks() for lab in (t.label1, t.label2)}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
            and (id(t) not in ticks or id(t) in drawn) and (t.axes is None or t.axes.get_visible())]


def _name(t) -> str:
    return repr(t.get_text()[:30])


def text_overlaps(fig, tolerance: float = 1.0) -> list:
    """'a' overlaps 'b' or 'a' leaves the figure, for the drawn texts (draw first), beyond tolerance pixels."""
    renderer = fig.canvas.get_renderer()
    boxes = [(t, t.get_window_extent(renderer)) for t in drawn_texts(fig)]
    width, height = fig.bbox.width, fig.bbox.height
    problems = [f"{_name(t)} leaves the figure" for t, b in boxes
                if b.x0 < -tolerance or b.y0 < -tolerance or b.x1 > width + tolerance or b.y1 > height + tolerance]
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            w, h = min(ba.x1, bb.x1) - max(ba.x0, bb.x0), min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
            if w > tolerance and h > tolerance:
                problems.append(f"{_name(a)} overlaps {_name(b)} by {w:.0f}x{h:.0f} px")
    return problems


def small_texts(fig, minimum: float = 9) -> list:
    """The drawn texts smaller than minimum points."""
    return [f"{_name(t)}: {t.get_fontsize():.1f} pt" for t in drawn_texts(fig) if t.get_fontsize() < minimum - 1e-9]
