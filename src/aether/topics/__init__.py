"""Topic models: LDA by exact, compiled, seeded MCMC (Magnusson et al. 2018 and baselines).

- ``corpus``: documents as flat token arrays built from document-term counts.
- ``model.LDA``: one API over four samplers: collapsed Gibbs, SparseLDA, and partially
  collapsed (PC-LDA) with sparse + alias z-sampling (``pclda``) or MH/alias (``pclda_light``).
- ``sharded.ShardedLDA``: PC-LDA with document shards on Dask workers, the same chain.
- ``metrics``: held-out likelihood (document completion), NPMI coherence, inefficiency/ESS.
"""

import os

# Idle OpenMP threads sleep instead of spinning: on a machine whose cores are shared (CI,
# laptops, several jobs), spinning threads steal the cores the busy ones need and a 2-thread
# run became 10x slower than 1 thread here. Set before numba starts its OpenMP pool; an
# exported value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from aether.topics.corpus import CorpusError, Tokens, from_arrays, from_counts
from aether.topics.experiment import SamplerRun, run_sampler
from aether.topics.model import LDA, SAMPLERS, ModelError

__all__ = [
    "LDA",
    "SAMPLERS",
    "CorpusError",
    "ModelError",
    "SamplerRun",
    "Tokens",
    "from_arrays",
    "from_counts",
    "run_sampler",
]
