"""Settings that Prefect, MLflow and DVC need on a machine without internet.

They are environment variables because all three tools read them at import time or from
their own child processes; `apply()` must run before `prefect` or `mlflow` is imported.
Values already set by the user win, so a real server or a different timeout can be chosen.
"""

import os

OFFLINE_ENV: dict[str, str] = {
    # Prefect's temporary API server needs 25-30 s to start on a loaded 2-core machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
}


def apply() -> None:
    """Export the offline settings into this process (and so into its children)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
