# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Explore an experiment's class maps
#
# Open this notebook in JupyterLab (`jupytext --to ipynb notebooks/explore.py`, or open the
# `.py` file with the jupytext extension) and run it: pick a scene, the map drawn over its true
# colour image (truth, Fmask, or any method under `predictions_dir`), the overlay's opacity and
# the classes shown. It works on any experiment folder: set the two paths below to a split of
# your own products and to the folder `dfmask predict` (or `05_evaluation`) wrote into.

# %% tags=["parameters"]
# A split folder of products (e.g. the synthetic TEST split of the default book).
scenes_dir = "data/generated/default/synthetic/TEST"
# Folder with one subfolder of <product>_DFMASK_CLASSES.tif per method ("" for none).
predictions_dir = "data/generated/default/predictions"

# %%
from dfmask_lib.explore import explorer

explorer(scenes_dir, predictions_dir or None)
