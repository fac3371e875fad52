"""Prefect tasks: thin wrappers that call `aether.*` and record to MLflow."""

from aether import offline

offline.apply()
