# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Stage 0: a U-Net trained on Fmask labels
#
# The first step of Deep F-Mask (Nambiar et al. 2022, Remote Sens. 14:1825): the smallest U-Net of
# the family ({glue:text}`filters` start filters, {glue:text}`depth` levels,
# {glue:text}`n_params` parameters) learns from **Fmask labels**, the only labels available at
# scale, and is selected on **human-labelled** validation scenes.
#
# Everything here runs on the **synthetic** polar and mountain scenes of notebook 01 (ground truth
# known by construction, standing in for the paper's human labels). The steps:
#
# 1. label every TRAIN product with the project's Fmask 4 (`*FMASK.tif` beside its bands);
# 2. cut TRAIN products into patches with Fmask labels, VALIDATION products with their
#    synthetic truth (`dfmask_lib.patches`, HDF5);
# 3. train stage 0 in the supervised setting (all training patches, Fmask labels;
#    `dfmask_lib.train`), keeping the epoch with the best validation mIoU;
# 4. learning curves, scores of the network and of its teacher Fmask against the synthetic truth,
#    and sample predictions.
#
# Deviations from the paper, on purpose: a batch of {glue:text}`batch_size` patches instead of
# one and, by default, bf16 mixed precision with channels-last on CPU. **Training is shorter
# than the paper's**: this profile stops at {glue:text}`epochs` epochs where the paper allows up
# to {glue:text}`paper_epochs`, so that the whole book fits the time a two-core machine allows;
# section 3 prints how many epochs ran and how long they took, section 4 shows the curves.
# The same run from the command line:
# `dfmask train synthetic --stage 0 --full --train-h5 ... --val-h5 ... --epochs N --amp`.

# %% tags=["parameters"]
# Folder of the synthetic splits written by notebook 01 (TRAIN/ and VALIDATION/ hold .SAFE products).
synthetic_dir = "data/generated/default/synthetic"
# Where the patch files go.
patches_dir = "data/generated/default/patches"
# The run goes to <runs_dir>/<experiment>/stage0; rerunning resumes it (a finished run is only
# reloaded; changed data or settings start it afresh).
runs_dir = "data/generated/default/runs"
experiment = "synthetic"
# Epochs (upper bound; early stopping may end sooner).
epochs = 30
batch_size = 8
# bf16 autocast on CPU (faster training: chapter "Performance").
amp = True
channels_last = True
num_workers = 2
seed = 0
# Validation patches shown as examples.
n_examples = 3

# %% tags=["remove-cell"]
import json
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from myst_nb import glue

from dfmask_lib import plots
from dfmask_lib.classes import CLASS_NAMES, SCORED_CLASSES
from dfmask_lib.dataset import PatchDataset
from dfmask_lib.display import interactive_bars, interactive_maps, setup_notebook, show_table
from dfmask_lib.fmask import ensure_fmask
from dfmask_lib.metrics import confusion_matrix, scores, scores_table
from dfmask_lib.patches import PatchConfig
from dfmask_lib.plots import Panel
from dfmask_lib.products import find_products, make_data, short_name
from dfmask_lib.reader import find_label_file, read_labels
from dfmask_lib.train import TrainConfig, load_checkpoint, mfb_weights, predict_patches, train
from dfmask_lib.unet import STAGES, count_parameters

setup_notebook()
glue("filters", STAGES[0][0], display=False)
glue("depth", STAGES[0][1], display=False)
glue("batch_size", batch_size, display=False)
glue("epochs", epochs, display=False)
glue("paper_epochs", TrainConfig().max_epochs, display=False)

# %%
train_dir = Path(synthetic_dir) / "TRAIN"
val_dir = Path(synthetic_dir) / "VALIDATION"
train_products, val_products = find_products(train_dir), find_products(val_dir)
print(f"{len(train_products)} synthetic TRAIN and {len(val_products)} synthetic VALIDATION products")

# %% [markdown]
# ## 1. Fmask labels
#
# Fmask runs on the TRAIN products (its labels are the training targets) and on the VALIDATION
# products (only to score the teacher against the synthetic truth below). A product's
# `*FMASK.tif` is recomputed only when it is stale: made from another product, another Fmask
# configuration or another code version (`dfmask_lib.cache`).

# %%
built = [ensure_fmask(product)[1] for product in train_products + val_products]
print(f"Fmask label files: {len(built)} ({sum(built)} computed now, {len(built) - sum(built)} "
      "reused)")

# %% [markdown]
# ## 2. Patches
#
# 254 px windows on the 20 m grid, the last row and column snapped to the scene edge, zero-padded
# to 256 px; input set "swirndsi" (B02, B03, B04, B08, B11, B12, NDSI). Patch files are rebuilt
# only when their inputs or configuration change.

# %%
train_h5 = make_data(train_dir, Path(patches_dir) / "train_fmask.h5",
                     PatchConfig(mode="train", seed=seed))
val_h5 = make_data(val_dir, Path(patches_dir) / "validation_truth.h5", PatchConfig(mode="test"))
train_set, val_set = PatchDataset(train_h5), PatchDataset(val_h5)
hist = train_set.class_histogram()
weights = mfb_weights(hist)
labelled = hist[1:].sum()
print(f"training patches: {len(train_set)} (per self-training subset: "
      f"{np.bincount(train_set.subset).tolist()}), validation patches: {len(val_set)}")
show_table([{"class": f"{c} {CLASS_NAMES[c]}", "Fmask pixels %": 100 * hist[c] / labelled,
             "MFB weight": float(weights[c])} for c in SCORED_CLASSES],
           formats={"Fmask pixels %": ".1f"}, caption="Training labels and class weights")

# %% [markdown]
# ## 3. Training stage 0 (supervised, Fmask labels)

# %%
cfg = TrainConfig(stage=0, in_channels=len(train_set.bands), full=True, max_epochs=epochs,
                  batch_size=batch_size, amp=amp, channels_last=channels_last,
                  num_workers=num_workers, seed=seed)
out_dir = Path(runs_dir) / experiment / "stage0"
result = train(cfg, train_h5, val_h5, out_dir, resume=True, restart_on_change=True)
model, _, ckpt = load_checkpoint(out_dir / "best.pt")
glue("n_params", f"{count_parameters(model) / 1e6:.2f} M", display=False)
print(f"U-Net stage 0: {count_parameters(model):,} parameters; lr {cfg.lr:g}, batch {cfg.batch_size}, "
      f"amp {cfg.amp}")
seconds = [h["time_s"] for h in result.history]
print(f"{result.epochs_run} epochs ({'early stop' if result.stopped_early else 'epoch limit'}), "
      f"{sum(seconds) / 60:.1f} min of training ({np.median(seconds):.1f} s per epoch, median); "
      f"best validation mIoU {result.best_miou:.3f} at epoch {result.best_epoch}")

# %% [markdown]
# ## 4. Learning curves
#
# Training loss (weighted cross-entropy on Fmask labels), validation loss and mIoU (classes 1-5,
# against the synthetic truth), and the 10-epoch moving average that early stopping watches.

# %%
history = json.loads((out_dir / "log.json").read_text())
fig = plots.learning_curves_figure({0: history}, ma_window=cfg.ma_window,
                                   best_epochs={0: result.best_epoch},
                                   titles={0: "stage 0, supervised (Fmask labels)"})
plt.show()

# %% [markdown]
# ## 5. The student against its teacher
#
# Both scored against the synthetic truth on the same labelled pixels of the validation patches
# (confusion matrices summed over patches; a predicted 0 counts as an error). Fmask's map is cut
# from each VALIDATION product's `*FMASK.tif` with the patch's window. These scenes also chose
# the network's best epoch, so its score here is slightly optimistic; the held-out synthetic
# TEST scenes are for the final scores. Overlapping snapped windows count their shared pixels
# twice, for both methods alike.

# %%
with h5py.File(val_h5) as f:
    val_images, val_truth = f["image"][:], f["label"][:]
    val_windows = f["window"][:]
    val_sources = [s.decode() for s in f["source"][:]]
pred, confidence = predict_patches(model, val_images, batch_size=batch_size, amp=amp)
fmask_maps = {p.name: read_labels(find_label_file(p, kind="FMASK"))[0] for p in val_products}
val_fmask = np.zeros_like(val_truth)
for k, (src, (r, c, h, w)) in enumerate(zip(val_sources, val_windows)):
    val_fmask[k, :h, :w] = fmask_maps[src][r:r + h, c:c + w]
named = {"Fmask (teacher)": scores(confusion_matrix(val_truth, val_fmask)),
         "U-Net stage 0": scores(confusion_matrix(val_truth, pred))}
show_table(scores_table(named), caption="Synthetic VALIDATION patches, pooled")
display(interactive_bars(scores_table(named), ["OA"] + [f"IoU {CLASS_NAMES[c]}"
                                                        for c in SCORED_CLASSES] + ["mIoU"],
                         label="name",
                         title="student and teacher on the synthetic VALIDATION patches"))

# %% [markdown]
# ## 6. Sample validation patches
#
# RGB (B04, B03, B02), the Fmask labels the network learned from, its prediction, and the
# synthetic truth, in the authors' class colours (padding and no data are black). The network
# never predicts class 0: its argmax runs over classes 1-5, and no data comes from the input.

# %%
# Patches with the most classes in their truth first (they show the most), one per product.
order = []
for k in np.argsort([-len(np.unique(t[t > 0])) for t in val_truth], kind="stable"):
    if len(order) < n_examples and val_sources[k] not in {val_sources[j] for j in order}:
        order.append(k)
rows_panels = [[Panel("rgb", val_images[k][[2, 1, 0]], f"RGB, {short_name(val_sources[k])}",
                      val_truth[k] > 0),
                Panel("classes", val_fmask[k], "Fmask (training labels)"),
                Panel("classes", pred[k] * (val_truth[k] > 0), "U-Net stage 0"),
                Panel("classes", val_truth[k], "synthetic truth")] for k in order]
plots.panels_figure(rows_panels)
plt.show()

# %% [markdown]
# The first of these patches to explore (offline): choose the map drawn over the RGB, switch
# classes off and on, hover for every map's class at a pixel.

# %%
k = order[0]
display(interactive_maps(plots.stretch_rgb(val_images[k][[2, 1, 0]], val_truth[k] > 0),
                         {"Fmask": val_fmask[k], "U-Net stage 0": pred[k] * (val_truth[k] > 0)},
                         truth=val_truth[k], title=f"{short_name(val_sources[k])} (synthetic)"))
