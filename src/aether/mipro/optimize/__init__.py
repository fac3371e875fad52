"""Optimizers, all with one contract: `compile(student, trainset, valset) -> program`.

Each is a composition of the same small steps (`bootstrap`, `propose`, `search`); the
baselines and MIPRO differ only in which steps they take.
"""

from aether.mipro.optimize.baselines import BootstrapFewShot, BootstrapRandomSearch, ZeroShot
from aether.mipro.optimize.evaluate import Evaluation, evaluate
from aether.mipro.optimize.mipro import MIPRO

__all__ = [
    "MIPRO",
    "BootstrapFewShot",
    "BootstrapRandomSearch",
    "Evaluation",
    "ZeroShot",
    "evaluate",
]
