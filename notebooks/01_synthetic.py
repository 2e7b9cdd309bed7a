# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Synthetic polar and mountain scenes with exact truth
#
# Deep F-Mask (Nambiar et al. 2022) was trained on {glue:text}`paper_n_train` Sentinel-2 L1C
# products of polar and high-mountain tiles and selected and scored on
# {glue:text}`paper_n_labelled` products with **human labels** (PANGAEA,
# doi:10.1594/PANGAEA.942321; the counts are those of the paper's scene lists in the data
# registry). Neither the products nor the labels can be downloaded on the
# machines this book is built on, and none of the bundled real data is polar or labelled. The
# book therefore works on **synthetic** scenes whose truth is known by construction, written as
# real-layout L1C SAFE products so that every later step (reader, Fmask, patches, training,
# prediction) treats them exactly like real products.
#
# What a synthetic scene holds (all of it seeded, `dfmask_lib.synthetic`):
#
# * a fractal-noise DEM, lit by the sun of a 10:30 local-time overpass on a summer day at its
#   location (hill-shade; terrain shadow darkens a pixel but keeps its surface class);
# * surfaces by elevation: fresh and old snow, glacier ice, blue ice, rock/moraine, tundra, open
#   and turbid meltwater, or sea ice with leads; their TOA spectra come from the cited table
#   `spectra.csv` (measured hand-classified glacier points for snow, ice and rock; literature
#   for the rest) with log-normal within-class variation;
# * clouds (cumulus, stratus, thin cloud, cirrus with its B10 signal), each with a height; their
#   shadows are cast at `dfmask_lib.geometry.shadow_offset`, the relation Fmask's shadow matching
#   inverts; a pixel is labelled cloud (and its shadow cloud shadow) where the cloud hides at
#   least {glue:text}`label_share:.0f` % of the surface signal, thinner veils are blended into the
#   surface and keep its class;
# * sensor noise, saturated bright B02-B04 (DN 65535) and a no-data wedge at the swath edge.
#
# Each scene has its own location (own UTM zone and MGRS tile); no location is shared between
# TRAIN, VALIDATION and TEST.
#
# One caveat for the real-data checks of `06_comparison`: the snow, glacier-ice and rock spectra
# here are the class means (and spreads) of the hand-classified Alaska glacier points, and the
# same points are one of those checks. A network that scores well on them has learned the spectra
# the generator was given; the glacier-point check is therefore not independent evidence of
# transfer to real imagery. The ukis chip, 18SVG and Betsiboka share nothing with the generator.
#
# Everything below is measured on these synthetic scenes: it says how the methods behave on this
# simulation, not how they perform on real polar imagery.

# %% tags=["parameters"]
# Folder of the synthetic splits (relative to the project root); notebook 03 reads it.
out_dir = "data/generated/default/synthetic"
# Scenes per split (the paper: 92 / 20 / 23 real products).
n_train = 16
n_val = 4
n_test = 4
# Scene side in 20 m pixels (multiple of 6); 504 px is ~10 km and 2 x 2 training patches.
size = 504
# Seed of the whole set: same seed, same bytes.
seed = 0
# Scenes shown in the gallery (from TEST, then VALIDATION, then TRAIN).
n_gallery = 4
# Split on which the project's Fmask is scored against the synthetic truth.
score_split = "TEST"

# %% tags=["remove-cell"]
import json
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
from myst_nb import glue

from dfmask_lib import plots
from dfmask_lib.classes import CLASS_COLOURS, CLASS_NAMES, SCORED_CLASSES
from dfmask_lib.display import setup_notebook, show_table
from dfmask_lib.fmask import run_fmask
from dfmask_lib.metrics import score_scenes, scores_table
from dfmask_lib.paperdata import paper_scene_lists
from dfmask_lib.plots import Panel
from dfmask_lib.reader import read_labels, read_product
from dfmask_lib.scene import S2_BANDS
from dfmask_lib.spectra import synthetic_spectra
from dfmask_lib.synthetic import ensure_splits
from dfmask_lib.synthetic.clouds import ASYMMETRY_G, TAU_CLOUD
from dfmask_lib.synthetic.scene import SynthConfig, generate
from dfmask_lib.synthetic.splits import SETTINGS
from dfmask_lib.synthetic.spectra import (CENTRAL_WAVELENGTH_NM, CLOUD_CLASS, CLOUD_TYPES,
                                          SURFACE_CLASS, SURFACES, load_spectra)

setup_notebook()
paper = paper_scene_lists()
glue("paper_n_train", len(paper["TRAIN"]), display=False)
glue("paper_n_labelled", len(paper["VALIDATION"]) + len(paper["TEST"]), display=False)
glue("asymmetry_g", ASYMMETRY_G, display=False)
glue("label_share", float(100 * (1 - np.exp(-TAU_CLOUD))), display=False)

# %% [markdown]
# ## Generating the splits
#
# `ensure_splits` reuses the folder when it was written with the same request
# (`synth_splits.json`) and otherwise writes it again (the same as `dfmask synth OUT_DIR ...`).

# %%
splits = ensure_splits(out_dir, n_train, n_val, n_test, size=size, seed=seed)
rows = []
for split, products in splits.items():
    for product in products:
        meta = json.loads((product / "dfmask_synth.json").read_text())
        truth, _ = read_labels(next(product.glob("GRANULE/*/IMG_DATA/*_LABELS.tif")))
        counts = np.bincount(truth.ravel(), minlength=6)
        labelled = max(int(counts[1:].sum()), 1)
        row = {"split": split, "tile": meta["product"]["tile_id"],
               "location": meta["product"]["location"],
               "date": meta["product"]["sensing_time"][:10],
               "sun zen": meta["config"]["sun_zenith"]}
        row.update({CLASS_NAMES[c]: counts[c] / labelled for c in SCORED_CLASSES})
        row["no data"] = counts[0] / truth.size
        rows.append(row)
show_table(rows, digits=2, formats={"sun zen": ".1f"},
           caption=f"{sum(len(p) for p in splits.values())} synthetic products of {size} x {size} "
                   f"px at 20 m: class shares of the labelled pixels")

# %% [markdown]
# ## The spectra behind the scenes
#
# Mean TOA reflectance (+- one standard deviation) of each synthetic surface and cloud type,
# from `dfmask_lib/synthetic/spectra.csv`; colours are the project class each type is labelled
# with. Snow and ice are bright in the visible and dark at 1.6 um (B11), clouds are bright in
# both; thin cloud and cirrus are blended with the surface beneath, cirrus shows in B10 (1.38 um).

# %%
table = load_spectra()
order = np.argsort(CENTRAL_WAVELENGTH_NM)
wl = np.asarray(CENTRAL_WAVELENGTH_NM)[order] / 1000.0
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained", sharey=True)
for ax, names, title in ((axes[0], SURFACES, "synthetic surfaces"),
                         (axes[1], CLOUD_TYPES, "synthetic clouds (full opacity)")):
    for name in names:
        sp = table[name]
        code = SURFACE_CLASS.get(name, CLOUD_CLASS)
        colour = np.array(CLASS_COLOURS[code]) / 255
        if code == CLOUD_CLASS:  # the cloud colour is too pale on white: shades of grey
            colour = plt.cm.Greys(0.35 + 0.15 * CLOUD_TYPES.index(name))
        ax.plot(wl, sp.mean[order], "o-", color=colour, label=name, ms=3)
        ax.fill_between(wl, (sp.mean - sp.std)[order], (sp.mean + sp.std)[order],
                        color=colour, alpha=0.12)
    ax.set(xlabel="wavelength (um)", title=title, xscale="log")
    ax.set_xticks([0.45, 0.56, 0.66, 0.86, 1.38, 1.61, 2.19], ["B2", "B3", "B4", "B8A", "B10",
                                                              "B11", "B12"])
    ax.legend(fontsize=7, ncol=2)
axes[0].set_ylabel("TOA reflectance")
plt.show()
show_table([{"type": n, "class": CLASS_NAMES[SURFACE_CLASS.get(n, CLOUD_CLASS)],
             "source": table[n].source} for n in SURFACES + CLOUD_TYPES],
           caption="Where each spectrum comes from")

# %% [markdown]
# The shadow model uses the measured ratio of shadowed to sunlit snow on the same glacier points
# (the diffuse skylight and path radiance left in a shadow), per band:

# %%
show_table([{"band": b, "shadowed / sunlit": float(v)}
            for b, v in zip(S2_BANDS, table["shadow_ratio"].mean)], digits=2,
           caption="Measured ratio of shadowed to sunlit snow")

# %% [markdown]
# ## Two cloud models: what the surface does under a cloud
#
# The default polar scenes blend a cloud over the surface by `1 - exp(-tau)` (Beer-Lambert: only
# the direct beam passes), so a thick cloud hides the ground and its pixels are as flat from B02
# to B08 as the cloud spectrum. Real cloud scatters light forward: the diffuse transmission of a
# scattering layer, `1 / (1 + (1 - g) tau / 2)` with asymmetry g = {glue:text}`asymmetry_g`
# (Bohren 1987; Hansen & Travis 1974), lets part of the surface signal through even a thick cumulus, and over vegetation the
# red edge shows in B08. The opt-in `two_stream` model (`SynthConfig.cloud_model`,
# `dfmask synth --cloud-model`; the temperate settings use it) does this, with optical
# thicknesses of the ISCCP cloud classes. Both label the same visible share as cloud. Below: one
# temperate lowland scene generated under each model, median spectra of the pixels labelled
# cloud and clear land (chapter `06_comparison` sets them beside the real scenes').

# %%
farmland = SynthConfig(size=252, seed=seed + 3, sun_zenith=35.0, cloud_cover=0.3,
                       **SETTINGS["temperate_lowland"])
rows_models = []
for model in ("beer_lambert", "two_stream"):
    rows_models += synthetic_spectra([generate(replace(farmland, cloud_model=model))],
                                     source=f"farmland, {model}")
plots.spectra_figure(rows_models, classes=[2, 1], bands=["B02", "B03", "B04", "B08", "B11", "B12"],
                     title="synthetic temperate scene under the two cloud models")
plt.show()
show_table([{"model": r["source"], "class": r["class_name"], "pixels": r["n"],
             "B02": r["B02 median"], "B08": r["B08 median"], "B11": r["B11 median"],
             "B08 / B02": r["B08 median"] / r["B02 median"]}
            for r in rows_models if r["class"] in (1, 2)], digits=3,
           caption="Median TOA reflectance under the two cloud models (synthetic)")

# %% [markdown]
# ## Gallery
#
# True colour (B04, B03, B02), false colour (B12, B11, B8A: snow and ice blue, clouds white to
# pink, rock brown, water black) and the synthetic truth in the authors' class colours, as read
# back from the SAFE products by `dfmask_lib.reader.read_product` (saturated pixels, DN 65535,
# are left out of the stretch and shown black).

# %%
gallery = (splits["TEST"] + splits["VALIDATION"] + splits["TRAIN"])[:n_gallery]
rows_gallery = []
for product in gallery:
    scene = read_product(product, progress=False)
    truth, _ = read_labels(next(product.glob("GRANULE/*/IMG_DATA/*_LABELS.tif")))
    name = f"{scene.metadata.tile_id} {scene.metadata.sensing_time[:10]}"
    unsaturated = scene.valid & ~scene.saturated  # DN 65535 would set the stretch
    rows_gallery.append([
        Panel("rgb", scene.bands(("B04", "B03", "B02")), f"synthetic {name}", unsaturated),
        Panel("rgb", scene.bands(("B12", "B11", "B8A")), "false colour B12/B11/B8A", unsaturated),
        Panel("classes", truth, "synthetic truth")])
plots.panels_figure(rows_gallery, panel_size=2.4)  # four rows of RGB stay well under 500 kB
plt.show()

# %% [markdown]
# ## The project's Fmask against the synthetic truth
#
# Fmask 4 (`dfmask_lib.fmask.run_fmask`, the label source of Deep F-Mask) runs on each product of
# the scored split as read by the reader; its classes are scored against the synthetic truth as
# the paper scores (`dfmask_lib.metrics`: rows = truth, pixels with truth 0 ignored, a predicted 0
# counts as an error). The paper reports Fmask 4 at 75 % overall accuracy on its real, human-
# labelled test scenes; the numbers here are for the synthetic scenes only.

# %%
pairs, names = [], []
for product in splits[score_split]:
    scene = read_product(product, progress=False)
    truth, _ = read_labels(next(product.glob("GRANULE/*/IMG_DATA/*_LABELS.tif")))
    pairs.append((truth, run_fmask(scene).classes))
    names.append(scene.metadata.tile_id)
pooled, per_scene = score_scenes(pairs)
show_table(pooled.class_rows(), caption=f"Fmask on {len(pairs)} synthetic {score_split} scenes, "
           f"pooled: OA {pooled.oa:.3f}, mIoU {pooled.miou:.3f} ({pooled.n_pixels} labelled pixels)")
show_table(scores_table(dict(zip(names, per_scene))), caption="Per scene")
plots.confusion_figure(pooled.confusion, title=f"Fmask vs synthetic truth ({score_split})")
plt.show()
