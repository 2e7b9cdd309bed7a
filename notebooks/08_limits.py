# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Limits, and where this book differs from the paper
#
# What the numbers of the earlier chapters can and cannot say. Everything below is read from
# the profile this book ran under and from the files the earlier chapters wrote.
#
# ## What differs
#
# The first table compares this run's settings with the paper's (Nambiar et al. 2022). The
# network sizes, the self-training procedure, the pseudo-label threshold, the class weights and
# the augmentations follow the paper; the differences are in the data, the batch size, the
# precision and, most of all, the training length.

# %% tags=["parameters"]
# The profile whose settings are compared with the paper's (a name or a .yml path).
profile = "default"
# The synthetic splits and the comparison tables written by notebooks 01 and 06.
synthetic_dir = "data/generated/default/synthetic"
comparison_dir = "data/generated/default/comparison"

# %% tags=["remove-cell"]
from pathlib import Path

from myst_nb import glue

from dfmask_lib.book import load_profile
from dfmask_lib.bookdocs import differences_rows, real_gap_rows
from dfmask_lib.display import setup_notebook, show_table
from dfmask_lib.paperdata import paper_scene_lists
from dfmask_lib.products import find_products

setup_notebook()

# %%
params = load_profile(profile).parameters
train_dir = Path(synthetic_dir) / "TRAIN"
n_train = len(find_products(train_dir)) if train_dir.is_dir() else 0
rows = differences_rows(params.get("03_stage0", {}), params.get("04_selftrain", {}), n_train,
                        len(paper_scene_lists()["TRAIN"]))
show_table(rows, caption=f"The paper's settings and this run's (profile {profile})")
glue("n_different", int(sum(not r["same"] for r in rows)), display=False)

# %% [markdown]
# {glue:text}`n_different` settings differ. The consequences:
#
# * **Synthetic scenes are not polar imagery.** Every score on the synthetic splits measures how
#   well a method learns this simulation (its spectra, its cloud model, its shadows). It is not
#   evidence for or against the paper's claim, which is about real scenes with human labels.
# * **Short training.** The paper lets every stage train for hundreds of epochs; this profile
#   stops far sooner, so the later, bigger stages are the most under-trained. The learning curves
#   of `03_stage0` and `04_selftrain` show whether a stage was still improving when it stopped.
# * **The labels of the synthetic scenes are exact**; the paper's human labels are not, and the
#   validation set that selects each stage's epoch is small in both.
#
# ## Synthetic to real
#
# The networks trained on the synthetic scenes are scored on the bundled real data in
# `06_comparison`. The table repeats the real checks of the project's Fmask and of the dfmask
# models from that chapter's output file:

# %%
real_checks = Path(comparison_dir) / "real_checks.json"
if real_checks.is_file():
    methods = ["Fmask 4 (dfmask)", "Fmask 4 (dfmask), B08 as B8A", "dfmask supervised stage 0",
               "dfmask stage 0", "dfmask stage 1", "dfmask stage 2", "dfmask stage 3"]
    show_table(real_gap_rows(real_checks, methods), digits=3,
               caption="Real-data checks (from 06_comparison)")
else:
    print(f"{real_checks} does not exist: run 06_comparison under this profile first")

# %% [markdown]
# How to read it: the ukis chip is farmland with cumulus, not a polar scene, and the only
# bundled real image with a reference for every class the networks predict but snow; 18SVG has
# no cloud at all; the glacier points share their spectra with the generator (chapter
# `01_synthetic`), so a good score there is not independent. The comparison chapter's section
# *Closing the gap* lists what was tried to make the synthetic training transfer, and how far
# it got.
#
# ## What this book does not do
#
# * It does not use the paper's own products and labels: they are not bundled. The chapter
#   *How to rerun* says how to obtain them and run every chapter on them (profile `paper`).
# * Sen2Cor is not run; its scene classification is read where a product ships one.
# * The learned peers run only where their packages and weights are installed; the comparison
#   chapter lists every method that was skipped and why.
# * Speed and memory figures come from the benchmarks' records (chapter *Performance*), measured
#   on the machine and on the date each record names.
