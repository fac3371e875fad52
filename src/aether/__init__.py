"""Aether: reference implementations of five ML research methods as one reproducible pipeline."""

__version__ = "0.1.0"
