"""Scale-out: the prepare stage's tasks run on a real Dask cluster of two worker processes."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


def test_prepare_on_a_local_dask_cluster(workdir, set_params):
    from distributed import Client, LocalCluster, get_task_stream

    from flows import common
    from flows.prepare import prepare_flow

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        set_params(
            pipeline={"task_runner": "dask", "dask_address": cluster.scheduler_address},
            prepare={"datasets": ["reuters", "dengue", "iris"]},
        )
        flow = common.with_runner(prepare_flow, Path("params.yaml"))
        assert type(flow.task_runner).__name__ == "DaskTaskRunner"
        with get_task_stream(client) as stream:
            stats = flow(params_file="params.yaml")
        workers = {item["worker"] for item in stream.data}
        addresses = set(client.scheduler_info()["workers"])

    assert set(stats) == {"reuters", "dengue", "iris"}
    assert len(stream.data) >= 6  # a fetch and a convert per dataset ran on the cluster
    assert workers and workers <= addresses  # on the cluster's worker processes
    assert Path("data/prepared/iris/meta.json").exists()
