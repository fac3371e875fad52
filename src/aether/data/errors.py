"""Errors raised while fetching and preparing datasets.

Each message names the dataset, file or path at fault, what was expected, and how to fix it,
because these errors surface in pipeline logs far from the code that raised them.
"""

from pathlib import Path


class DataError(Exception):
    """Base class: anything wrong with a dataset's registration, sources or contents."""


class UnknownDatasetError(DataError, KeyError):
    """A dataset name that is not in the registry."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown dataset {name!r}; registered datasets are: {', '.join(sorted(known))}"
        )

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])


class ChecksumMismatchError(DataError):
    """A file whose bytes differ from the registered sha256 (corrupt, truncated or altered)."""

    def __init__(self, what: Path | str, expected: str, actual: str, fix: str) -> None:
        self.what, self.expected, self.actual = what, expected, actual
        super().__init__(
            f"checksum mismatch for {what}: expected sha256 {expected}, got {actual}; {fix}"
        )


class MissingSourceError(DataError):
    """A file that is neither in the mirror nor downloadable."""


class MalformedDataError(DataError):
    """A file that has the right checksum (or none to check) but cannot be parsed."""
