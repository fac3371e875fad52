"""Nested mappings (params, metrics) as flat dotted keys, the form MLflow and tables want."""

from collections.abc import Iterator, Mapping
from typing import Any


def leaves(nested: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(`a.b.c`, value) for every non-mapping value, in insertion order."""
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from leaves(value, f"{name}.")
        else:
            yield name, value
