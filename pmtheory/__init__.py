"""pmtheory: checks the theory of RLHF alignment papers by exact computation.

Public names are re-exported here one per line; anything else is private.
"""

from pmtheory.certified import CertifiedSolution
from pmtheory.certified import solve_pointwise_regularized
from pmtheory.divergences import DIVERGENCE_NAMES
from pmtheory.divergences import Divergence
from pmtheory.divergences import f_divergence
from pmtheory.divergences import f_divergence_from_log
from pmtheory.divergences import get_divergence
from pmtheory.solvers import Solution
from pmtheory.solvers import kkt_residual
from pmtheory.solvers import optimal_policy
from pmtheory.solvers import regularized_objective

__all__ = [
    "CertifiedSolution",
    "DIVERGENCE_NAMES",
    "Divergence",
    "Solution",
    "f_divergence",
    "f_divergence_from_log",
    "get_divergence",
    "kkt_residual",
    "optimal_policy",
    "regularized_objective",
    "solve_pointwise_regularized",
]
