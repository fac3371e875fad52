"""Loading the Planetoid Python-2 pickles without letting them run code.

A pickle can name any importable callable and call it on load (``os.system`` included), so
only the handful of globals these files need are resolved; anything else is refused.
"""

import collections
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from aether.data.errors import MalformedDataError

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's array-unpickling helper

# (module, name) as written by Python 2 / older numpy and scipy -> the object to use today
ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
    ("scipy.sparse._csr", "csr_matrix"): sp.csr_matrix,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in `ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise MalformedDataError(
                f"refusing to unpickle {module}.{name}: only numpy arrays, scipy CSR matrices "
                "and list/defaultdict containers are allowed in dataset pickles"
            ) from None


def load(path: Path) -> Any:
    """Unpickle a Planetoid file (Python-2 pickles need latin1 for their byte strings)."""
    with path.open("rb") as f:
        try:
            return RestrictedUnpickler(f, encoding="latin1").load()
        except MalformedDataError as e:
            raise MalformedDataError(f"{path}: {e}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
            raise MalformedDataError(f"{path} is not a readable pickle ({e}); restore it") from None
