"""dfmask: Deep F-Mask for Sentinel-2 L1C images of snow- and ice-covered regions.

An open reimplementation of Nambiar et al. (2022), "A Self-Trained Model for
Cloud, Shadow and Snow Detection in Sentinel-2 Images of Snow- and Ice-Covered
Regions", Remote Sensing 14(8):1825, doi:10.3390/rs14081825. Please cite it.
"""

__version__ = "0.1.0"
