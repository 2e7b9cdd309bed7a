# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Fmask 4: the label source
#
# Deep F-Mask trains its first network on **Fmask 4** masks (Qiu, Zhu & He 2019, Remote Sens.
# Environ. 231:111205) and then corrects them by self-training (Nambiar et al. 2022). The project
# has its own Fmask 4 for Sentinel-2 (`dfmask_lib.fmask`), written from Zhu & Woodcock 2012
# (RSE 118:83-94), Zhu et al. 2015 (RSE 159:269-277), Qiu et al. 2019 and Frantz et al. 2018
# (RSE 215:471-481, cloud displacement index). Its steps, each a pure array function:
#
# 1. the observation mask;
# 2. the indices (NDVI, NDSI, NDBI, whiteness, HOT, CDI);
# 3. potential snow;
# 4. water;
# 5. potential cloud pixels (PCP), with the normalised cirrus test;
# 6. absolute snow (the spectral-contextual snow index, SCSI);
# 7. cloud probability over land and over water, each with a dynamic threshold (a percentile
#    of the clear pixels plus a margin);
# 8. the cloud layer from the probabilities;
# 9. removal of bright-surface commission (erosion and the CDI);
# 10. potential shadow by a flood fill of NIR and SWIR1;
# 11. shadow matching per cloud object over a range of cloud heights;
# 12. buffers around cloud and shadow, and the class precedence.
#
# Every threshold, window and size is a field of `FmaskConfig`, named after the paper that
# defines it; the table at the end of this page lists them all.
#
# All images here are **real** Sentinel-2 L1C data from the project's data registry: a
# Toulouse SAFE product (a small crop: it shows the product path end to end, not much of a
# mask), the Betsiboka estuary array from the s2cloudless test data (the one real cloudy scene
# bundled with the project) and the cloud-free 18SVG scene of the Virginia coast.

# %% tags=["parameters"]
# Registry name (relative to the data folder) of an L1C SAFE product to run end to end.
product = "alcd_toulouse_safe/S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"
# The s2cloudless test array (1, H, W, 13) TOA reflectance in S2 band order; "" to skip.
betsiboka = "s2cloudless_betsiboka/input_arrays.npz"
# That array has no georeference and no date: its pixel size (m), and where and when the
# sun is assumed to be (10:30 local solar time, the Sentinel-2 overpass).
betsiboka_resolution = 60.0
betsiboka_latitude = -15.9
betsiboka_day_of_year = 80  # the March equinox: an assumption, the date is unknown
# The cloud-free 18SVG check (dfmask_lib.realdata.svg18): its false cloud share; False to skip.
svg18 = True
# Percentiles of the quicklook stretch.
stretch = (2.0, 98.0)

# %% tags=["remove-cell"]
from dataclasses import fields

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from myst_nb import glue

from dfmask_lib import plots
from dfmask_lib.classes import CLOUD, FMASK, recode
from dfmask_lib.display import interactive_maps, setup_notebook, show_table
from dfmask_lib.fmask import FmaskConfig, class_fractions, run_fmask
from dfmask_lib.fmask.strips import fmask_scene
from dfmask_lib.fmask.product import array_scene
from dfmask_lib.products import short_name
from dfmask_lib.reader import read_product
from dfmask_lib.realdata import svg18 as load_svg18
from dfmask_lib.registry import fetch, fetch_dir
from dfmask_lib.synthetic.splits import sun_position

setup_notebook()
config = FmaskConfig()

# %% [markdown]
# ## A SAFE product end to end
#
# `read_product` gives the 20 m scene (reflectance with the baseline-04.00 offset, sun angles
# from MTD_TL.xml, per-pixel view angles); `run_fmask` gives Fmask codes; `dfmask fmask PRODUCT`
# writes them as `<granule>/IMG_DATA/T<tile>_<datetime>_FMASK.tif`. A crop with fewer clear
# pixels than Fmask's minimum (`FmaskConfig.min_clear_pixels`) skips the probabilities and the
# shadow matching: cloud = PCP (the line below lists the skipped steps).

# %%
scene = read_product(fetch_dir(product, progress=False), progress=False)
result = run_fmask(scene, config)
print(f"{short_name(product)}: {scene.shape[0]} x {scene.shape[1]} px at "
      f"{scene.resolution:g} m, sun zenith {scene.sun_zenith:.1f} deg, azimuth "
      f"{scene.sun_azimuth:.1f} deg; skipped: {result.layers['skipped']}")
show_table([{"Fmask class": name, "share %": 100 * fraction}
            for name, fraction in class_fractions(result.fmask).items()], digits=2)
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
plots.rgb_figure(scene, percentiles=stretch, ax=axes[0], title="RGB")
plots.classmap_figure(result.fmask, table=FMASK, ax=axes[1], title="Fmask 4 (project colours)")
plt.show()

# %% [markdown]
# `run_fmask` holds the whole scene, so that every intermediate layer can be shown below.
# `dfmask fmask` and the training pipeline run the same steps over strips of rows instead
# (`dfmask_lib.fmask.strips`: a full tile in about 0.6 GB, chapter *Performance*). Both on this
# product:

# %%
in_strips = fmask_scene(scene, config, progress=False)
print(f"pixels whose Fmask code differs between run_fmask and the strips: "
      f"{int(np.count_nonzero(in_strips.fmask != result.fmask))} of {result.fmask.size}")

# %% [markdown]
# ## The Betsiboka estuary, step by step
#
# A real cloudy L1C array (s2cloudless test input). It has no georeference and no date, so the
# scene is built with the pixel size and the assumed sun position from the parameters above
# (nadir view). The sun position only moves the shadows; the cloud mask does not depend on it.
#
# Fmask 4 defines its windows, buffers and object sizes in pixels of the 20 m grid. This array
# has coarser pixels, so `run_fmask` converts those fields to the same ground distances and
# areas on its grid (`FmaskConfig.on_grid`); the line printed below lists each conversion.

# %%
data = np.load(fetch(betsiboka)) if betsiboka else None
if data is not None:
    zenith, azimuth = sun_position(betsiboka_latitude, betsiboka_day_of_year, 10.5)
    bscene = array_scene(data["s2_im"], resolution=betsiboka_resolution, sun_zenith=zenith,
                         sun_azimuth=azimuth, source=betsiboka)
    bres = run_fmask(bscene, config)
    layers = bres.layers
    print(f"Betsiboka: {bscene.shape[0]} x {bscene.shape[1]} px, assumed sun zenith "
          f"{zenith:.1f} deg, azimuth {azimuth:.1f} deg")
    print(config.describe_on_grid(bscene.resolution))
    print(f"land threshold {layers['land_threshold']:.3f}, water threshold "
          f"{layers['water_threshold']:.3f}, HOT range {layers['hot_range'][0]:.3f} .. "
          f"{layers['hot_range'][1]:.3f}")

# %% [markdown]
# Step 2, the indices. Clouds are white (low whiteness), bright in HOT, and, being elevated,
# show a cloud displacement index (CDI) near -1: band B08 sees them displaced relative to B07
# and B8A.

# %%
if data is not None:
    fig, axes = plt.subplots(1, 5, figsize=(13, 5), layout="constrained")
    plots.rgb_figure(bscene, percentiles=stretch, ax=axes[0], title="RGB")
    for ax, (name, lo, hi, cmap) in zip(axes[1:], [("ndsi", -1, 1, "RdBu"),
                                                   ("whiteness", 0, 1, "magma_r"),
                                                   ("hot", -0.1, 0.3, "magma"),
                                                   ("cdi", -1, 1, "RdBu")]):
        im = ax.imshow(layers[name], vmin=lo, vmax=hi, cmap=cmap, interpolation="nearest")
        ax.set_title(name.upper() if name != "whiteness" else "whiteness")
        ax.set_axis_off()
        fig.colorbar(im, ax=ax, shrink=0.6)
    plt.show()

# %% [markdown]
# Steps 5-9: potential cloud pixels, the land cloud probability with its dynamic threshold,
# the clouds before and after the removal of bright-surface commission.

# %%
if data is not None:
    fig, axes = plt.subplots(1, 4, figsize=(12, 5), layout="constrained")
    axes[0].imshow(layers["potential_cloud"], cmap="gray", interpolation="nearest")
    axes[0].set_title(f"potential cloud ({100 * layers['potential_cloud'].mean():.1f} %)")
    im = axes[1].imshow(layers["cloud_probability_land"], vmin=0, vmax=1.2, cmap="viridis",
                        interpolation="nearest")
    axes[1].contour(layers["cloud_probability_land"] > layers["land_threshold"], levels=[0.5],
                    colors="r", linewidths=0.5)
    axes[1].set_title(f"land cloud probability (red: > {layers['land_threshold']:.2f})")
    fig.colorbar(im, ax=axes[1], shrink=0.6)
    axes[2].imshow(layers["cloud_before_commission"], cmap="gray", interpolation="nearest")
    axes[2].set_title(f"cloud, step 8 ({100 * layers['cloud_before_commission'].mean():.1f} %)")
    axes[3].imshow(layers["cloud"], cmap="gray", interpolation="nearest")
    axes[3].set_title(f"cloud, step 9 ({100 * layers['cloud'].mean():.1f} %)")
    for ax in axes:
        ax.set_axis_off()
    plt.show()

# %% [markdown]
# Steps 10-11: the potential shadow (pixels at least 0.02 darker than their flood-filled
# surroundings in both NIR and SWIR1) and the shadows found by matching each cloud object's
# projection to it, with the matched cloud heights.

# %%
if data is not None:
    heights = layers["cloud_heights"][1:]
    matched = np.isfinite(heights)
    print(f"{heights.size} cloud objects, {matched.sum()} matched; median matched height "
          f"{np.nanmedian(heights):.0f} m (range {np.nanmin(heights):.0f}-"
          f"{np.nanmax(heights):.0f} m)")
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.5), layout="constrained")
    axes[0].imshow(layers["potential_shadow"], cmap="gray", interpolation="nearest")
    axes[0].set_title(f"potential shadow ({100 * layers['potential_shadow'].mean():.1f} %)")
    axes[1].imshow(layers["shadow"], cmap="gray", interpolation="nearest")
    axes[1].set_title(f"matched shadow ({100 * layers['shadow'].mean():.1f} %)")
    for ax in axes[:2]:
        ax.set_axis_off()
    axes[2].hist(heights[matched], bins=30, color="0.4")
    axes[2].set_xlabel("matched cloud height (m)")
    axes[2].set_ylabel("cloud objects")
    plt.show()

# %% [markdown]
# Step 12: the final mask beside the RGB and beside s2cloudless's own cloud mask for the same
# array (an algorithm, not ground truth: the agreement is a plausibility check, not an accuracy).

# %%
if data is not None:
    ours, theirs = bres.fmask == 4, data["cl_mask"][0] == 1
    iou = (ours & theirs).sum() / (ours | theirs).sum()
    print(f"cloud IoU, our Fmask 4 vs s2cloudless: {iou:.3f} (cloud {100 * ours.mean():.1f} % "
          f"vs {100 * theirs.mean():.1f} %)")
    show_table([{"Fmask class": name, "share %": 100 * fraction}
                for name, fraction in class_fractions(bres.fmask).items()], digits=2)
    fig, axes = plt.subplots(1, 3, figsize=(13, 5.5), layout="constrained")
    plots.rgb_figure(bscene, percentiles=stretch, ax=axes[0], title="RGB")
    plots.classmap_figure(bres.fmask, table=FMASK, ax=axes[1], legend=False,
                          title="Fmask 4 (ours)")
    agreement = np.select([ours & theirs, ours & ~theirs, ~ours & theirs], [3, 2, 1], 0)
    axes[2].imshow(agreement, cmap=plt.matplotlib.colors.ListedColormap(
        ["0.15", "tab:orange", "tab:blue", "white"]), vmin=-0.5, vmax=3.5, interpolation="nearest")
    axes[2].set_title("cloud: both (white), only ours (blue),\nonly s2cloudless (orange)")
    axes[2].set_axis_off()
    plt.show()

# %% [markdown]
# The same scene to explore (works in the page, offline): choose the map shown over the RGB,
# switch classes on and off, and hover for the classes of both maps at a pixel. The
# s2cloudless mask is drawn as cloud / clear land.

# %%
if data is not None:
    s2c = np.where(theirs, 2, 1).astype(np.uint8) * bscene.valid
    display(interactive_maps(plots.stretch_rgb(bscene.bands(plots.RGB_BANDS), bscene.valid,
                                               stretch),
                             {"Fmask 4 (ours)": recode(bres.fmask, FMASK), "s2cloudless": s2c},
                             title="Betsiboka (real, 60 m)"))

# %% [markdown]
# ## The cloud-free 18SVG scene: false clouds
#
# The 18SVG scene (Virginia coast, 2016) has no cloud at all, so every pixel Fmask calls cloud
# is a false cloud: here, {glue:text}`svg18_cloud:.2f` % of its valid pixels (after the cloud
# buffer). The map shows where they are.

# %%
if svg18:
    sscene, _ = load_svg18()
    sres = run_fmask(sscene, config)
    false_cloud = 100 * float((recode(sres.fmask, FMASK)[sscene.valid] == CLOUD).mean())
    glue("svg18_cloud", false_cloud, display=False)
    print(f"18SVG: {sscene.shape[0]} x {sscene.shape[1]} px at {sscene.resolution:g} m; "
          f"false cloud {false_cloud:.2f} % of the valid pixels")
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), layout="constrained")
    plots.rgb_figure(sscene, percentiles=stretch, ax=axes[0], title="18SVG RGB (real)")
    plots.classmap_figure(sres.fmask, table=FMASK, ax=axes[1], legend=True,
                          title="Fmask 4 (ours)")
    plt.show()

# %% [markdown]
# ## Where Fmask is known to fail
#
# * **Snow and ice vs cloud.** Both are bright in the visible; only SWIR separates them (NDSI).
#   Thin cloud over snow, and snow or ice with low NDSI (old, dirty, shaded), are confused in both
#   directions. Qiu et al. (2019) added the spectral-contextual snow index and the
#   bright-surface erosion for exactly this, and still report the largest errors over snow and
#   ice; Nambiar et al. (2022) found Fmask 4's overall accuracy on polar and mountain scenes far
#   below Deep F-Mask's, mostly from this confusion (their figures are quoted in
#   `06_comparison`).
# * **Shadows on snow.** The potential shadow needs a drop in *both* NIR and SWIR1, but snow
#   is already dark in SWIR1, and a flood fill only finds pits that are closed off from the image
#   border: shadows on snow reaching dark water or the edge are missed, and without shadow
#   candidates the matching (step 11) fails (Qiu et al. 2019; Nambiar et al. 2022).
# * **Bright surfaces.** Bright sand, salt, rock and urban roofs pass the spectral cloud tests;
#   the erosion and the CDI (Frantz et al. 2018) remove thin or small ones, wide ones stay.
#   On the cloud-free 18SVG tile above, the barrier-island beach is the only "cloud"
#   ({glue:text}`svg18_cloud:.2f` % of the tile).
# * **Turbid water.** Sediment-laden water is bright in the visible and NIR and dark in SWIR1, so
#   it can pass the snow test (NDSI, NIR and green thresholds of Zhu & Woodcock 2012): on
#   the Betsiboka scene above, the estuary's muddy channels come out partly as snow (cyan).
# * **Merged cloud fields.** Matching treats each 8-connected cloud object as one body at one
#   height; touching clouds at different heights get one compromise height and misplaced shadows.
#
# These errors are what the self-training of Deep F-Mask corrects: the network learns the
# majority pattern of the noisy Fmask labels and is selected on human-labelled scenes.

# %% [markdown]
# ## The settings
#
# Every field of `FmaskConfig` as used on this page (defaults of Qiu et al. 2019 and the
# papers cited in `dfmask_lib/fmask/config.py`; sizes in pixels of the 20 m grid).

# %%
show_table([{"setting": f.name, "value": getattr(config, f.name)} for f in fields(config)],
           digits=4, caption="FmaskConfig")
