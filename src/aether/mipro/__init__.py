"""MIPRO (Opsahl-Ong et al. 2024): optimizing instructions and demonstrations of LM programs.

Three layers, each usable alone: `lm` (models behind one protocol, a call cache, accounting),
`program` (signatures, predictors, multi-module programs) and `optimize` (zero-shot,
BootstrapFewShot, bootstrap random search and MIPRO, all honouring
`compile(student, trainset, valset) -> program`).
"""

from aether.mipro.errors import (
    BudgetExceededError,
    EmptyTrainsetError,
    LMError,
    MetricError,
    MiproError,
)

__all__ = ["BudgetExceededError", "EmptyTrainsetError", "LMError", "MetricError", "MiproError"]
