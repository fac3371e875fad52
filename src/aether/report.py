"""One report over every stage: metrics tables, plots rendered to PNG, links to MLflow runs.

The stages and their plots are read from `dvc.yaml`, so the report follows the pipeline's
real DAG: a stage added there appears here once it has run. PNGs are rendered with
matplotlib because `dvc plots show` needs JavaScript from the internet. A stage may also write
`reports/<stage>/tables.json` (`{title: [row, ...]}`): text tables shown after its metrics,
such as the instructions MIPRO chose per task.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import yaml

from aether import io
from aether.nested import leaves


@dataclass
class Plot:
    """A DVC plot declaration and its rendered PNG."""

    source: Path
    x: str | None
    y: str | None
    title: str
    template: str = "linear"
    png: Path | None = None


@dataclass
class Section:
    """What one stage contributes to the report."""

    stage: str
    metrics: dict[str, Any]
    plots: list[Plot] = field(default_factory=list)
    run: dict[str, str] | None = None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def stages_of(dvc_yaml: Path) -> dict[str, dict]:
    """The stages of dvc.yaml in file order (which is the DAG order here)."""
    return yaml.safe_load(Path(dvc_yaml).read_text()).get("stages", {})


def collect(
    dvc_yaml: Path, reports_dir: Path, exclude: tuple[str, ...] = ("report",)
) -> list[Section]:
    """A section per stage that has written its metrics; stages not yet run are left out."""
    sections = []
    for stage, spec in stages_of(dvc_yaml).items():
        metrics_path = Path(reports_dir) / stage / "metrics.json"
        if stage in exclude or not metrics_path.exists():
            continue
        run_path = Path(reports_dir) / stage / "run.json"
        tables_path = Path(reports_dir) / stage / "tables.json"
        sections.append(
            Section(
                stage=stage,
                metrics=json.loads(metrics_path.read_text()),
                plots=[p for p in _plots(spec) if p.source.exists()],
                run=json.loads(run_path.read_text()) if run_path.exists() else None,
                tables=json.loads(tables_path.read_text()) if tables_path.exists() else {},
            )
        )
    return sections


def _plots(spec: dict) -> list[Plot]:
    plots = []
    for entry in spec.get("plots", []):
        path, opts = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        opts = opts or {}
        plots.append(
            Plot(
                source=Path(path),
                x=opts.get("x"),
                y=opts.get("y"),
                title=opts.get("title", Path(path).stem),
                template=opts.get("template", "linear"),
            )
        )
    return plots


def render_png(plot: Plot, out: Path) -> Path:
    """Draw a DVC plot's CSV as a PNG: bars for bar templates, else lines (points for scatter).

    Text columns besides x and y label the series: with two or more, the first one splits
    the figure into panels (e.g. one per model) and the rest name the series in each panel.
    """
    frame = pd.read_csv(plot.source)
    x = plot.x or frame.columns[0]
    ys = [plot.y] if plot.y else [c for c in frame.columns if c != x]
    if plot.template.startswith("bar"):
        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
        if plot.template == "bar_horizontal":  # DVC's convention: x holds the values
            ax.barh(frame[ys[0]].astype(str), frame[x])
            ax.set_xlabel(x)
        else:
            ax.bar(frame[x].astype(str), frame[ys[0]])
            ax.set_ylabel(ys[0])
        ax.set_title(plot.title)
    else:
        labels = [
            c
            for c in frame.columns
            if c not in (x, *ys) and not pd.api.types.is_numeric_dtype(frame[c])
        ]
        facet = labels.pop(0) if len(labels) >= 2 else None
        panels = list(frame.groupby(facet, sort=False)) if facet else [(None, frame)]
        fig, axes = plt.subplots(
            1, len(panels), figsize=(4.2 * len(panels) + 1, 3.6), dpi=100, squeeze=False
        )
        for ax, (name, part) in zip(axes[0], panels, strict=True):
            _draw_series(ax, part, x, ys, labels, scatter=plot.template == "scatter")
            if _spans_octaves(part[x]):
                ax.set_xscale("log", base=2)  # particle counts, sizes: 64, 256, 1024
            ax.set_xlabel(x)
            ax.set_title(f"{facet} = {name}" if facet else plot.title)
        if facet:
            fig.suptitle(plot.title)
    fig.tight_layout()
    with io.atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out


def _spans_octaves(values: pd.Series) -> bool:
    """Positive numbers over at least 4x but few distinct values: a log axis reads better."""
    if not pd.api.types.is_numeric_dtype(values) or (values <= 0).any():
        return False
    return values.nunique() <= 8 and values.max() >= 4 * values.min()


def _draw_series(ax, frame: pd.DataFrame, x: str, ys: list[str], labels: list[str], scatter: bool):
    groups = list(frame.groupby(labels, sort=False)) if labels else [((), frame)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        for y in ys:
            name = ", ".join([*map(str, key), *([y] if len(ys) > 1 else [])]) or y
            if scatter:
                ax.scatter(part[x], part[y], s=10, alpha=0.6, label=name)
            else:
                ax.plot(part[x], part[y], marker="o" if len(part) < 30 else None, label=name)
    if len(groups) > 1 or len(ys) > 1:
        ax.legend(fontsize="small")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in first-seen order."""
    return list(dict.fromkeys(k for row in rows for k in row))


def _md_cell(value: Any) -> str:
    return " ".join(_fmt(value if value is not None else "").split()).replace("|", "\\|")


def _md_table(title: str, rows: list[dict[str, Any]]) -> list[str]:
    """A stage's text table (`tables.json`: title -> rows), e.g. MIPRO's chosen instructions."""
    cols = _columns(rows)
    if not cols:
        return []
    lines = [f"### {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_md_cell(r.get(c)) for c in cols) + " |" for r in rows]
    return [*lines, ""]


def _html_table(title: str, rows: list[dict[str, Any]]) -> str:
    e = html.escape
    cols = _columns(rows)
    if not cols:
        return ""
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<h3>{e(title)}</h3><table><tr>{head}</tr>{body}</table>"


def to_markdown(sections: list[Section], title: str, mlflow_ui: str, figures: Path) -> str:
    lines = [f"# {title}", "", _summary(sections), ""]
    for s in sections:
        lines += [f"## {s.stage}", ""]
        if s.run:
            lines += [f"MLflow run: [{s.run['run_id']}]({mlflow_ui}/{s.run['ui_path']})", ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in leaves(s.metrics)]
        lines.append("")
        for name, rows in s.tables.items():
            lines += _md_table(name, rows)
        for p in s.plots:
            if p.png:
                lines += [f"![{p.title}]({p.png.relative_to(figures.parent).as_posix()})", ""]
    return "\n".join(lines)


def _summary(sections: list[Section]) -> str:
    return f"Stages reported: {', '.join(s.stage for s in sections) or 'none yet'}."


def to_html(sections: list[Section], title: str, mlflow_ui: str) -> str:
    """A single self-contained page: PNGs are embedded as data URIs."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1><p>{e(_summary(sections))}</p>",
    ]
    for s in sections:
        parts.append(f"<h2 id='{e(s.stage)}'>{e(s.stage)}</h2>")
        if s.run:
            url = f"{mlflow_ui}/{s.run['ui_path']}"
            parts.append(f"<p>MLflow run: <a href='{e(url)}'>{e(s.run['run_id'])}</a></p>")
        rows = "".join(
            f"<tr><td>{e(k)}</td><td>{e(_fmt(v))}</td></tr>" for k, v in leaves(s.metrics)
        )
        parts.append(f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>")
        parts += [_html_table(name, table) for name, table in s.tables.items()]
        for p in s.plots:
            if p.png:
                data = base64.b64encode(p.png.read_bytes()).decode()
                parts.append(f"<figure><img alt='{e(p.title)}' src='data:image/png;base64,{data}'>")
                parts.append(f"<figcaption>{e(p.title)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "img{max-width:100%}"
)


def build(
    dvc_yaml: Path, reports_dir: Path, title: str, mlflow_ui: str
) -> tuple[Path, Path, list[Section]]:
    """Render every stage's plots and write `report.md` and `report.html`."""
    reports_dir = Path(reports_dir)
    figures = reports_dir / "figures"
    sections = collect(dvc_yaml, reports_dir)
    for s in sections:
        for p in s.plots:
            p.png = render_png(p, figures / f"{s.stage}-{p.source.stem}.png")
    md = io.write_text(reports_dir / "report.md", to_markdown(sections, title, mlflow_ui, figures))
    page = io.write_text(reports_dir / "report.html", to_html(sections, title, mlflow_ui))
    return md, page, sections
