# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Self-training: stages 0 to 3
#
# The contribution of Deep F-Mask (Nambiar et al. 2022, Remote Sens. 14:1825): the network
# relabels its own training data and grows, stage by stage.
#
# 1. The training patches are shuffled once (seeded) into four subsets of about a quarter each.
# 2. **Stage 0**, the smallest U-Net, trains on subset 0 with Fmask labels.
# 3. Before **stage k** (1-3), the best stage k-1 model relabels subsets 1..k: softmax, argmax over
#    classes 1-5, label 0 where the top probability is below the threshold
#    ({glue:text}`threshold`, the paper's) or Fmask says no data. Subset 0 keeps its Fmask
#    labels. The class weights (median frequency balancing) are recomputed from the labels the
#    stage actually trains on.
# 4. Stage k trains a bigger U-Net on subsets 0..k, with augmentation (flips, rot90, zoom,
#    cut-out); the network sizes are in the first table below.
# 5. Every stage keeps the epoch with the best mIoU on the labelled validation scenes.
#
# Everything here runs on the **synthetic** scenes of notebook 01, whose truth stands in for the
# paper's human labels. The library call is `dfmask_lib.selftrain.selftrain` (the same as
# `dfmask selftrain EXP --train-h5 ... --val-h5 ...`); it writes one experiment folder with a
# `manifest.json` and reuses finished stages whose inputs, settings and code are unchanged.
#
# Deviations from the paper, on purpose: a batch of {glue:text}`batch_size` instead of one, bf16
# mixed precision with channels-last on the CPU, and **far fewer epochs than the paper's limit of
# {glue:text}`paper_epochs`** (this profile: {glue:text}`epochs_text`), so that the whole book
# runs on two CPU cores; the curves in section 3 show where each stage stopped.

# %% tags=["parameters"]
# Folder of the synthetic splits written by notebook 01 (TRAIN/ and VALIDATION/ hold .SAFE products).
synthetic_dir = "data/generated/default/synthetic"
# Where the patch files go (shared with notebook 03: the same files are reused).
patches_dir = "data/generated/default/patches"
# The experiment folder is <runs_dir>/<experiment>.
runs_dir = "data/generated/default/runs"
experiment = "selftrain"
# Stages to run (always 0..K) and the epoch limit of each (early stopping may end sooner).
stages = [0, 1, 2, 3]
epochs = [40, 15, 12, 10]
batch_size = 8
# bf16 autocast and channels-last on the CPU (faster: chapter "Performance").
amp = True
channels_last = True
num_workers = 2
seed = 0
# Pseudo-label confidence threshold (0.4 in the paper).
threshold = 0.4
# "auto": CUDA when present, else the CPU.
device = "auto"

# %% tags=["remove-cell"]
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import display
from myst_nb import glue

from dfmask_lib import plots
from dfmask_lib.classes import CLASS_NAMES, SCORED_CLASSES
from dfmask_lib.display import interactive_bars, setup_notebook, show_table
from dfmask_lib.fmask import ensure_fmask
from dfmask_lib.patches import PatchConfig
from dfmask_lib.products import find_products, make_data
from dfmask_lib.pseudolabels import stats_table
from dfmask_lib.selftrain import SelfTrainConfig, histories, selftrain, summary_table
from dfmask_lib.train import TrainConfig
from dfmask_lib.unet import STAGES, UNet, count_parameters, stage_config

setup_notebook()
glue("threshold", threshold, display=False)
glue("batch_size", batch_size, display=False)
glue("paper_epochs", TrainConfig().max_epochs, display=False)
glue("epochs_text", " / ".join(str(e) for e in epochs) + " for stages "
     + ", ".join(str(s) for s in stages), display=False)

# %%
show_table([{"stage": s, "start filters": STAGES[s][0], "levels": STAGES[s][1],
             "parameters (M)": count_parameters(UNet(stage_config(s))) / 1e6} for s in stages],
           formats={"parameters (M)": ".2f"}, caption="The U-Net of each stage (7 input channels)")

# %%
train_dir, val_dir = Path(synthetic_dir) / "TRAIN", Path(synthetic_dir) / "VALIDATION"
products = find_products(train_dir) + find_products(val_dir)
built = [ensure_fmask(p)[1] for p in products]
train_h5 = make_data(train_dir, Path(patches_dir) / "train_fmask.h5",
                     PatchConfig(mode="train", seed=seed))
val_h5 = make_data(val_dir, Path(patches_dir) / "validation_truth.h5", PatchConfig(mode="test"))
print(f"{len(products)} synthetic products ({sum(built)} Fmask label files computed now); "
      f"patch files {train_h5.name}, {val_h5.name}")

# %% [markdown]
# ## 1. The four stages
#
# `overwrite=True` lets the book follow regenerated data or changed parameters: stages whose
# inputs, settings and code version are unchanged are reused, the others recomputed.

# %%
config = SelfTrainConfig(stages=tuple(stages), max_epochs=tuple(epochs), batch_size=batch_size,
                         amp=amp, channels_last=channels_last, num_workers=num_workers,
                         seed=seed, device=device, threshold=threshold)
exp_dir = Path(runs_dir) / experiment
result = selftrain(config, train_h5, val_h5, exp_dir, overwrite=True)
logs = histories(exp_dir)
summary = summary_table(exp_dir)
show_table(summary, formats={"changed %": ".1f", "dropped %": ".1f"},
           caption="Stages: training, kept epoch, validation mIoU and pseudo-labels")
plots.stage_progression_figure([{"stage": f"stage {r['stage']}", "val mIoU": r["val mIoU"]}
                                for r in summary], metrics=("val mIoU",), label="stage",
                               title="best validation mIoU by stage (synthetic VALIDATION)")
plt.show()
for s in result.stages:
    minutes = sum(r["time_s"] for r in logs[s.stage]) / 60
    print(f"stage {s.stage}: {s.train.epochs_run} of {config.epochs(s.stage)} epochs "
          f"({'early stop' if s.train.stopped_early else 'epoch limit'}), {minutes:.1f} min of "
          f"training, {'trained now' if s.trained else 'reused'}; class weights "
          f"{[round(w, 3) for w in s.train.data['class_weights'][1:]]}")

# %% [markdown]
# ## 2. Pseudo-labels
#
# For each stage k > 0: of the Fmask-labelled pixels of subsets 1..k, the share the stage k-1
# model gave each class (rows: the Fmask class; the diagonal is agreement with Fmask), and the
# share dropped (label 0) because the model's top probability was below the threshold. These
# tables say how far the student moves away from its teacher.

# %%
for s in result.stages[1:]:
    show_table(stats_table(s.pseudolabels.stats), digits=1,
               caption=f"stage {s.stage}: subsets 1-{s.stage} relabelled by the stage "
                       f"{s.stage - 1} model (threshold {config.threshold}), % of each Fmask class")

# %% [markdown]
# ## 3. Learning curves
#
# Per stage: weighted cross-entropy on its training labels (Fmask for stage 0, pseudo-labels
# after) and on the validation scenes' synthetic truth; validation mIoU, its 10-epoch moving
# average (what early stopping watches) and per-class IoU. The dotted line is the kept epoch.
# A curve still rising at its last epoch says the stage would gain from more epochs than this
# profile allows.

# %%
fig = plots.learning_curves_figure(
    {s.stage: logs[s.stage] for s in result.stages},
    best_epochs={s.stage: s.train.best_epoch for s in result.stages},
    titles={s.stage: f"stage {s.stage} ({s.train.data['n_train']} patches)"
            for s in result.stages})
plt.show()

# %% [markdown]
# Per-class validation IoU of each stage's kept epoch, to explore (hover for values, click a
# stage in the legend to hide it).

# %%
rows_iou = []
for s in result.stages:
    best = next(r for r in logs[s.stage] if r["epoch"] == s.train.best_epoch)
    rows_iou.append({"stage": f"stage {s.stage}",
                     **{f"IoU {CLASS_NAMES[c]}": best.get(f"iou_{c}", float("nan"))
                        for c in SCORED_CLASSES}})
display(interactive_bars(rows_iou, [f"IoU {CLASS_NAMES[c]}" for c in SCORED_CLASSES],
                         label="stage", title="validation IoU per class at each kept epoch"))
