"""The report gathers what each stage of dvc.yaml wrote, with PNGs rendered and embedded."""

import json

import yaml

from aether import report


def _stage_outputs(root, stage, metrics, rows):
    out = root / "reports" / stage
    (out / "plots").mkdir(parents=True)
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "run.json").write_text(
        json.dumps({"run_id": "abc", "ui_path": "#/experiments/1/runs/abc"})
    )
    (out / "plots" / "curve.csv").write_text("\n".join(["step,loss", *rows]) + "\n")


def test_report_covers_stages_that_ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stages = {
        "first": {"plots": [{"reports/first/plots/curve.csv": {"x": "step", "y": "loss"}}]},
        "never_ran": {"plots": []},
        "report": {},
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    _stage_outputs(tmp_path, "first", {"acc": 0.25, "nested": {"n": 7}}, ["0,3.0", "1,2.5"])

    md, page, sections = report.build(tmp_path / "dvc.yaml", tmp_path / "reports", "T", "http://ui")

    assert [s.stage for s in sections] == ["first"]
    text = md.read_text()
    assert "## first" in text and "| nested.n | 7 |" in text and "| acc | 0.25 |" in text
    assert "[abc](http://ui/#/experiments/1/runs/abc)" in text
    assert "![curve](figures/first-curve.png)" in text
    png = tmp_path / "reports" / "figures" / "first-curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert "data:image/png;base64," in html and "never_ran" not in html
    assert "<img" in html and "src='figures" not in html  # self-contained


def test_bar_template_renders(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("dataset,megabytes\na,1.5\nb,0.2\n")
    plot = report.Plot(csv, x="megabytes", y="dataset", title="t", template="bar_horizontal")
    out = report.render_png(plot, tmp_path / "d.png")
    assert out.stat().st_size > 1000


def test_text_columns_become_panels_and_series(tmp_path):
    csv = tmp_path / "spread.csv"
    rows = ["model,delay,particles,log_z"]
    rows += [
        f"{m},{d},{n},{-n * 0.01 - (d == 'off')}"
        for m in "ab"
        for d in ("on", "off")
        for n in (64, 256)
    ]
    csv.write_text("\n".join(rows) + "\n")
    plot = report.Plot(csv, x="particles", y="log_z", title="spread", template="scatter")
    out = report.render_png(plot, tmp_path / "spread.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width > 900  # one panel per model: two panels side by side


def test_stage_text_tables_are_shown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"mipro": {}}}))
    _stage_outputs(tmp_path, "mipro", {"lm_calls": 12}, ["0,1.0"])
    rows = [
        {"task": "t", "optimizer": "mipro", "module": "extract", "instruction": "Say <x> | y"},
        {"task": "t", "optimizer": "zero_shot", "module": "extract", "instruction": "Read."},
    ]
    tables = {"Chosen instructions": rows}
    (tmp_path / "reports" / "mipro" / "tables.json").write_text(json.dumps(tables))

    md, page, sections = report.build(tmp_path / "dvc.yaml", tmp_path / "reports", "T", "http://ui")

    assert sections[0].tables == tables
    text = md.read_text()
    assert "### Chosen instructions" in text
    assert "| task | optimizer | module | instruction |" in text
    assert "| t | mipro | extract | Say <x> \\| y |" in text  # a pipe cannot break the table
    html = page.read_text()
    assert "<h3>Chosen instructions</h3>" in html and "Say &lt;x&gt; | y" in html
