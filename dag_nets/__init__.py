"""Feed-forward networks on DAGs and their LoP manifolds (Section 2, Appendices A.3 and A.5).

``DagNet`` (graph.py) is the network; ``Partition`` (partition.py) a node partition; ``manifold``
(manifolds.py) the RE, CE, M_C, BC, M_D and M_F subspaces with closed-form projectors; base_network.py
the quotient and cloning maps; refine.py the coarsest equitable partition; dynamics.py trajectories and
symmetry breakers; stability.py Definition A.2; from_module.py and diagnose.py a torch model of one's own
(frozen units, clone blocks and their stability). See docs/dag_nets.md.
"""

from dag_nets.base_network import base_network, clone_network
from dag_nets.diagnose import diagnose
from dag_nets.equitability import block_constant_residual, equitability_residuals, is_equitable
from dag_nets.from_module import from_module
from dag_nets.graph import DagNet
from dag_nets.manifolds import manifold
from dag_nets.partition import Partition
from dag_nets.refine import coarsest_equitable_partition
from dag_nets.stability import normal_stability

__all__ = [
    "DagNet",
    "Partition",
    "base_network",
    "block_constant_residual",
    "clone_network",
    "coarsest_equitable_partition",
    "diagnose",
    "equitability_residuals",
    "from_module",
    "is_equitable",
    "manifold",
    "normal_stability",
]
