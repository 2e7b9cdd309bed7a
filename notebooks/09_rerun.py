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
# `GRANULE/*/IMG_DATA/`.
#
# ## The paper's own data, step by step
#
# 1. **The product list.** The names of the paper's training, validation and test products are
#    in the data registry (`deepfmask_scene_lists/`, read by
#    `dfmask_lib.paperdata.paper_scene_lists`); the first table below counts them.
# 2. **The products.** Download each listed L1C product from the Copernicus Data Space Ecosystem
#    (a free account is needed): search the product name in the Copernicus Browser, or ask its
#    OData catalogue for `Products?$filter=Name eq '<product name>'` and download the product it
#    returns. Unzip each into `data/paper/<split>/` so that the `.SAFE` folder keeps its name (a
#    `.zip` is read as well).
# 3. **The human labels.** Download the labelled masks of the validation and test scenes from
#    PANGAEA (doi:10.1594/PANGAEA.942321). Each mask must become a single-band GeoTIFF in the
#    project's class codes (0 no data, 1 clear land, 2 cloud, 3 cloud shadow, 4 snow/ice,
#    5 water; the introduction's table) on the product's 20 m grid (nearest-neighbour resampling
#    if it is not), saved in the product's `GRANULE/*/IMG_DATA/` with a name ending in
#    `LABELS.tif`. Training products need no labels: Fmask labels are computed and cached.
# 4. **Check the layout.** Set `scenes_root` below to `data/paper` and run this notebook (or
#    `dfmask book --profile paper --only 09_rerun`): the second table counts the products found
#    per split and those with labels.
# 5. **Run.** `make book PROFILE=paper` (or `dfmask book --profile paper`). The paper profile uses
#    the paper's settings (batch 1, fp32, up to 400 epochs per stage) and a CUDA GPU; the
#    chapter *Performance* gives the measured speed of each step to plan the run.
#
# To try the whole pipeline before downloading anything, `python -m dfmask_lib.paperdata
# data/paper-dryrun` writes full-size synthetic stand-in products laid out like this and runs
# the paper profile on them with one epoch per stage on the CPU (a dry run of the mechanics, not
# of the results). It has run end to end on 2 CPU cores with full-size stand-ins (2 / 1 / 1
# products) in a little over two hours; the README gives the times and the memory of that run,
# which say what machine to plan on.

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
# The default profile runs on two CPU cores; the `gpu` and `paper` profiles are for one CUDA GPU
# and train longer; the chapter *Performance* gives the measured speed of each step, from which
# the time of a run on the paper's data can be estimated (training time grows with the number
# of patches and epochs, prediction time with the number of pixels).
