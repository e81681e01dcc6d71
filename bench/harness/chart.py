"""docs/benchmarks.png: one panel per section and worker count, the median req/s of
each app on each server, porch's bars in colour."""

from __future__ import annotations

from .load import Run
from .sections import MEMORY, REDIS, SQLITE
from .settings import DOCS, Settings
from .tables import medians, of_workers


def panels(
    runs: list[Run], scale_runs: list[Run], settings: Settings
) -> list[tuple[str, list[tuple[str, float]]]]:
    found: list[tuple[str, list[tuple[str, float]]]] = []
    for scenario in (REDIS, MEMORY, SQLITE):
        for workers in settings.workers:
            chosen = medians(of_workers([r for r in runs if r.scenario == scenario], workers))
            if chosen:
                found.append(
                    (
                        f"{scenario}, {workers} worker{'s' if workers > 1 else ''}",
                        sorted(chosen.items(), key=lambda item: -item[1]),
                    )
                )
    for workers in settings.workers:
        chosen = {
            "porch, " + label: value
            for label, value in medians(of_workers(scale_runs, workers)).items()
        }
        if chosen:
            found.append(
                (f"Scale, {workers} worker{'s' if workers > 1 else ''}", sorted(chosen.items()))
            )
    return found


def chart(runs: list[Run], scale_runs: list[Run], settings: Settings) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = panels(runs, scale_runs, settings)
    if not drawn:
        return
    columns = 2
    rows = (len(drawn) + 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(14, 3.6 * rows), squeeze=False)
    for axis, (title, bars) in zip(axes.flat, drawn, strict=False):
        names = [name for name, _ in bars]
        values = [value for _, value in bars]
        colours = ["#d9480f" if name.startswith("porch") else "#868e96" for name in names]
        axis.barh(names, values, color=colours)
        axis.invert_yaxis()
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("requests/s")
        for y, value in enumerate(values):
            axis.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
        axis.set_xlim(0, max(values) * 1.2)
        axis.tick_params(labelsize=8)
    for axis in list(axes.flat)[len(drawn) :]:
        axis.axis("off")
    figure.suptitle(
        f"Session counter, wrk -t{settings.threads} -c{settings.connections}: the median of "
        f"{settings.cycles} interleaved {settings.slice_seconds} s runs per app and server",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(DOCS / f"{settings.page}.png", dpi=110)
    plt.close(figure)
