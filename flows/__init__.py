"""Prefect flows: one per stage, and `pipeline.py`, the whole DAG as one flow."""

from aether import offline

offline.apply()
