"""Peer methods dfmask is compared against, one adapter module per method.

See :mod:`dfmask_lib.peers.base` for the contract (project codes on the scene's grid, the
classes each method claims, a one-line reason when a method cannot run here) and
``docs/PEERS.md`` / the README for how each peer runs offline.
"""

from .base import Peer, PeerUnavailable, check_output, missing_bands
# Classical peers (numpy, or a file the user supplies).
from .fmask import FmaskFile, OwnFmask, OwnFmaskB08
from .hollstein import HollsteinBayes, HollsteinTree
from .sen2cor import Sen2Cor
# Learned peers: their optional packages are imported only when they run.
from .external import CloudSEN12, KappaMask, OmniCloudMask, SEnSeIv2
from .s2cloudless import S2Cloudless
from .ukis import UkisCsmask, UkisCsmask021

__all__ = ["Peer", "PeerUnavailable", "check_output", "missing_bands", "PEERS"]

#: Every peer adapter by :attr:`Peer.name` (``dfmask compare --methods``).
PEERS: dict[str, type[Peer]] = {}
PEERS.update({p.name: p for p in (S2Cloudless, UkisCsmask, UkisCsmask021)})
PEERS.update({p.name: p for p in (OmniCloudMask, CloudSEN12, SEnSeIv2, KappaMask)})
PEERS.update({p.name: p for p in (OwnFmask, OwnFmaskB08, FmaskFile, Sen2Cor, HollsteinTree,
                                    HollsteinBayes)})
