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
