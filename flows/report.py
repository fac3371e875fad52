"""The `report` stage: one Markdown and one self-contained HTML report over every stage."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task

from aether import params as P
from aether import provenance, report
from aether.tracking import Tracker
from flows import common


@task(name="build-report")
def build_report(reports_dir: str, title: str, mlflow_ui: str) -> dict[str, str]:
    md, page, sections = report.build(Path("dvc.yaml"), Path(reports_dir), title, mlflow_ui)
    figures = [str(p.png) for s in sections for p in s.plots if p.png]
    return {
        "md": str(md),
        "html": str(page),
        "stages": [s.stage for s in sections],
        "figures": figures,
    }


@flow(name="report")
def report_flow(
    params_file: str = str(P.PARAMS_FILE),
    parent_run_id: str | None = None,
    reports_dir: str = "reports",
) -> dict[str, str]:
    params = P.load("report", Path(params_file))
    pipeline = P.load("pipeline", Path(params_file))
    built = build_report(reports_dir, params.title, params.mlflow_ui)
    inputs = [Path(reports_dir) / stage / "metrics.json" for stage in built["stages"]]
    with Tracker(experiment=pipeline.experiment).stage_run(
        "report",
        parent_run_id=parent_run_id,
        params=params.model_dump(),
        tags=provenance.run_tags(inputs),
    ) as run:
        run.log_metrics({"n_stages": len(built["stages"])})
        for path in [built["md"], built["html"], *built["figures"]]:
            run.log_artifact(Path(path), artifact_path="report")
    get_run_logger().info("report written to %s", built["html"])
    return built


if __name__ == "__main__":
    common.main(report_flow, __doc__)
