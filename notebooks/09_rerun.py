# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # How to rerun this book on your own scenes
#
# ## Install
#
# On Linux or macOS with Python 3.11, from a clone of the repository:
#
# ```bash
# make book        # creates .venv, installs dfmask with the book extra, runs the default profile
# make test        # the test suite (no network, no GPU)
# ```
#
# `make book PROFILE=path/to/my.yml` runs another profile, and `dfmask book --profile NAME
# [--from NOTEBOOK] [--only NOTEBOOK] [--force]` does the same from the command line. A chapter
# whose notebook, parameters, inputs and code version have not changed since its last run is
# skipped, and each page says which profile and code version it was executed under.
#
# ## Accepted inputs
#
# Every notebook that reads imagery takes Sentinel-2 **Level-1C** products as:
#
# * a `.SAFE` folder, or its `.zip` as downloaded from the Copernicus Data Space;
# * a folder of band files (`*_B02.jp2`, ...), with the sun angles given by the caller;
# * a GeoTIFF stack whose band descriptions name the bands.
#
# Reflectance follows each product's own metadata (`QUANTIFICATION_VALUE`, and
# `RADIO_ADD_OFFSET` from processing baseline 04.00 on). Level-2A products are refused: the
# method is defined on top-of-atmosphere reflectance.
#
# ## A folder laid out like the paper's data
#
# The chapters 03 to 06 read a folder with the splits `TRAIN/`, `VALIDATION/` and `TEST/`, each
# holding products. Training products need no human labels: Fmask labels are computed and
# cached beside each product. Validation and test products need their labels as a GeoTIFF in
# project class codes on the product's 20 m grid, named `*LABELS.tif`, in the product's
# `GRANULE/*/IMG_DATA/`. For the paper's own data: the product names are in the data registry
# (`deepfmask_scene_lists/`), the products come from the Copernicus Data Space, and the human
# labels from PANGAEA (doi:10.1594/PANGAEA.942321). The table below counts the paper's listed
# products per split and checks a folder you point it at.

# %% tags=["parameters"]
# A folder laid out as <root>/TRAIN|VALIDATION|TEST/<product>.SAFE ("" to skip the check).
scenes_root = ""
# The profile whose blocks are shown below (a name or a .yml path).
profile = "default"

# %% tags=["remove-cell"]
from pathlib import Path

from IPython.display import Markdown, display

from dfmask_lib.book import load_profile
from dfmask_lib.bookdocs import needs_rows, parameters_cell, profile_block
from dfmask_lib.display import setup_notebook, show_table
from dfmask_lib.paperdata import layout_rows, paper_scene_lists

setup_notebook()

# %%
lists = paper_scene_lists()
show_table([{"split": s, "products listed by the paper": len(v)} for s, v in lists.items()],
           caption="The paper's scene lists (data registry)")
if scenes_root and Path(scenes_root).is_dir():
    show_table(layout_rows(scenes_root), caption=f"What {scenes_root} holds")

# %% [markdown]
# ## What needs human labels

# %%
shown = load_profile(profile)
show_table(needs_rows(shown.notebooks), caption="Inputs of each chapter")

# %% [markdown]
# ## A profile block per notebook
#
# Copy `book/profiles/default.yml`, change the blocks of the chapters you want to run on your
# data and keep the others. For each notebook: its parameters with their documentation (as in
# the notebook), then its block in the profile shown.

# %%
for nb in shown.notebooks:
    display(Markdown(f"### {nb}\n\nParameters of the notebook:\n\n```python\n"
                     f"{parameters_cell(nb)}\n```\n\nIts block in the `{shown.name}` "
                     f"profile:\n\n```yaml\n{profile_block(shown.parameters, nb)}\n```"))

# %% [markdown]
# ## Hardware
#
# The default profile runs on two CPU cores; the `gpu` profile is for one CUDA GPU and trains
# longer; the chapter *Performance* gives the measured speed of each step, from which the time
# of a run on the paper's data can be estimated (training time grows with the number of
# patches and epochs, prediction time with the number of pixels).
