# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Evaluation on held-out scenes
#
# Every model of the previous chapters, and their teacher Fmask, mask the **whole** scenes of
# the held-out synthetic TEST split, which no model saw in training or in the choice of its
# best epoch. The class maps are written as GeoTIFFs (`dfmask_lib.predict.predict_product`, the
# same as `dfmask predict`) and scored against the synthetic truth as the paper scores
# (`dfmask_lib.evaluate`, the same as `dfmask evaluate`): one confusion matrix per scene (rows =
# truth, over the pixels whose truth is not 0; a predicted 0 on a labelled pixel is an error),
# summed over the scenes for the pooled numbers.
#
# The methods:
#
# * **Fmask** (the project's Fmask 4): the teacher, whose labels the networks learned from;
# * **supervised stage 0**: the chapter-3 network, trained on all training patches with Fmask
#   labels (no self-training), the baseline of the method;
# * **self-training stages 0-3**: the chapter-4 networks.
#
# The paper reports its scores on real human-labelled test scenes (quoted in `06_comparison`);
# the numbers here are for the synthetic scenes only, with the short training of this profile.

# %% tags=["parameters"]
# Folder of the synthetic splits (notebook 01); the scored split.
synthetic_dir = "data/generated/default/synthetic"
split = "TEST"
# The runs of notebooks 03 (supervised) and 04 (self-training), under runs_dir.
runs_dir = "data/generated/default/runs"
baseline_experiment = "synthetic"
selftrain_experiment = "selftrain"
# Where the predicted class maps go: <predictions_dir>/<method>/<product>_DFMASK_CLASSES.tif.
predictions_dir = "data/generated/default/predictions"
batch_size = 4
amp = False
device = "auto"
# TEST scenes shown as maps.
n_maps = 4
stretch = [2.0, 98.0]

# %% tags=["remove-cell"]
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from myst_nb import glue

from dfmask_lib import plots
from dfmask_lib.classes import CLASS_NAMES, SCORED_CLASSES
from dfmask_lib.display import interactive_bars, interactive_maps, setup_notebook, show_table
from dfmask_lib.evaluate import evaluate_files
from dfmask_lib.fmask import ensure_fmask
from dfmask_lib.metrics import scores_table
from dfmask_lib.plots import Panel
from dfmask_lib.predict import predict_product
from dfmask_lib.products import find_products, short_name
from dfmask_lib.reader import read_labels, read_product
from dfmask_lib.selftrain import load_manifest

setup_notebook()

# %%
products = find_products(Path(synthetic_dir) / split)
exp_dir = Path(runs_dir) / selftrain_experiment
finished = sorted(int(k) for k, e in load_manifest(exp_dir)["stages"].items()
                  if e.get("status") == "done")
checkpoints = {"supervised stage 0": Path(runs_dir) / baseline_experiment / "stage0" / "best.pt"}
checkpoints.update({f"self-trained stage {k}": exp_dir / f"stage{k}" / "best.pt"
                    for k in finished})
print(f"{len(products)} synthetic {split} products; models: {', '.join(checkpoints)}")

# %% [markdown]
# ## 1. Whole-scene class maps
#
# Fmask label files and predictions are recomputed only when stale (other product, model,
# settings or code version, `dfmask_lib.cache`). Prediction runs over overlapping windows
# (`dfmask_lib.predict.PredictConfig`) whose softmax outputs are blended, so the map has no
# seams and no edge strips.

# %%
maps = {"Fmask (teacher)": [ensure_fmask(p)[0] for p in products]}
for name, ckpt in checkpoints.items():
    out_dir = Path(predictions_dir) / name.replace(" ", "_")
    results = [predict_product(ckpt, p, out_dir / f"{p.name.removesuffix('.SAFE')}"
                               "_DFMASK_CLASSES.tif", batch_size=batch_size, amp=amp,
                               device=device, progress=False) for p in products]
    maps[name] = [r.path for r in results]
    done = [r for r in results if not r.skipped]
    speed = (f", {sum(r.mpx_per_s for r in done) / len(done):.2f} Mpx/s" if done else "")
    print(f"{name}: {len(done)} predicted now, {len(results) - len(done)} reused{speed}")

# %% [markdown]
# ## 2. Scores, pooled over the TEST scenes
#
# Overall accuracy, intersection over union per class and its mean over classes 1-5, then the
# F1 score per class, for every method on the same pixels.

# %%
evaluations = {name: evaluate_files(paths, products, progress=False)
               for name, paths in maps.items()}
short_methods = {name: name.replace("self-trained ", "").replace("supervised ", "sup. ")
                 .replace(" (teacher)", "") for name in evaluations}
pooled = {name: ev.pooled for name, ev in evaluations.items()}
iou_rows = scores_table(pooled)
f1_rows = [{"method": name, "OA": s.oa, **{f"F1 {CLASS_NAMES[c]}": v for c, v in s.f1.items()},
            "mIoU": s.miou} for name, s in pooled.items()]
show_table(iou_rows, caption=f"Synthetic {split}, pooled: OA and IoU per class")
show_table(f1_rows, caption=f"Synthetic {split}, pooled: F1 per class")
teacher, last = pooled["Fmask (teacher)"], list(pooled.values())[-1]
glue("last_method", list(pooled)[-1], display=False)
glue("last_oa", float(last.oa), display=False)
glue("teacher_oa", float(teacher.oa), display=False)
glue("oa_gain", float(100 * (last.oa - teacher.oa)), display=False)

# %% [markdown]
# The last stage, {glue:text}`last_method`, reaches an overall accuracy of
# {glue:text}`last_oa:.3f` against its teacher's {glue:text}`teacher_oa:.3f`
# ({glue:text}`oa_gain:+.1f` points) on these synthetic scenes.
#
# ### The stage progression
#
# Overall accuracy and mIoU from the teacher through the supervised baseline to each
# self-training stage, then IoU and F1 per class and method.

# %%
plots.stage_progression_figure([{"method": short_methods[r["name"]], "OA": r["OA"],
                                 "mIoU": r["mIoU"]} for r in iou_rows],
                               title=f"synthetic {split}, pooled: from the teacher to stage 3")
plt.show()
iou_columns = [f"IoU {CLASS_NAMES[c]}" for c in SCORED_CLASSES]
f1_columns = [f"F1 {CLASS_NAMES[c]}" for c in SCORED_CLASSES]
plots.score_bars_figure(iou_rows, iou_columns, label="name",
                        title=f"synthetic {split}: IoU per class")
plt.show()
plots.score_bars_figure(f1_rows, f1_columns, ylabel="F1",
                        title=f"synthetic {split}: F1 per class")
plt.show()
display(interactive_bars(iou_rows, iou_columns + ["mIoU"], label="name",
                         title=f"synthetic {split}: IoU per class (hover, click to hide)"))

# %% [markdown]
# ## 3. Per scene
#
# Overall accuracy and mIoU of each method on each TEST scene: the pooled numbers can hide a
# scene where a method fails.

# %%
scene_names = evaluations["Fmask (teacher)"].names
show_table([{"scene": short_name(scene), **{short_methods[name]: ev.scores(scene).oa
                                            for name, ev in evaluations.items()}}
            for scene in scene_names], caption="Overall accuracy per scene")
show_table([{"scene": short_name(scene), **{short_methods[name]: ev.scores(scene).miou
                                            for name, ev in evaluations.items()}}
            for scene in scene_names], caption="mIoU per scene")

# %% [markdown]
# ## 4. Confusion matrices
#
# Row-normalised (each truth class sums to 1: the diagonal is the recall); the "no data" column
# counts labelled pixels a method left without a class.

# %%
n = len(pooled)
fig, axes = plt.subplots((n + 2) // 3, 3, figsize=(15, 4.4 * ((n + 2) // 3)), squeeze=False,
                         layout="constrained")
for ax, (name, s) in zip(axes.flat, pooled.items()):
    plots.confusion_figure(s.confusion, title=name, ax=ax)
for ax in list(axes.flat)[n:]:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## 5. Maps of TEST scenes
#
# True colour, the synthetic truth, Fmask and each network, in the authors' class colours.

# %%
shown = products[:n_maps]
rows_maps, explore = [], None
for i, product in enumerate(shown):
    scene = read_product(product, bands=("B02", "B03", "B04"), progress=False)
    truth, _ = read_labels(next(product.glob("GRANULE/*/IMG_DATA/*_LABELS.tif")))
    classes = {name: read_labels(maps[name][i])[0] for name in maps}
    rows_maps.append([Panel("rgb", scene.bands(("B04", "B03", "B02")),
                            f"{short_name(product)} RGB", scene.valid),
                      Panel("classes", truth, "synthetic truth")]
                     + [Panel("classes", c, short_methods[name]) for name, c in classes.items()])
    if explore is None:
        explore = (scene, truth, classes)
plots.panels_figure(rows_maps, panel_size=2.2)  # up to 8 panels a row, under 500 kB
plt.show()

# %% [markdown]
# The first of these scenes to explore (offline): pick the map drawn over the RGB, switch
# classes off and on, hover for every method's class at a pixel.

# %%
scene, truth, classes = explore
display(interactive_maps(plots.stretch_rgb(scene.bands(("B04", "B03", "B02")), scene.valid,
                                           tuple(stretch)),
                         {short_methods[n]: c for n, c in classes.items()}, truth=truth,
                         title=f"{short_name(shown[0])} (synthetic {split})"))

# %% [markdown]
# ## 6. Where the methods disagree
#
# Red where the methods of this chapter do not all give the same class, on the scenes above;
# grey is no data.

# %%
rows_disagree = []
for i, product in enumerate(shown):
    stack = np.stack([read_labels(maps[name][i])[0] for name in maps])
    valid = (stack > 0).all(axis=0)
    rows_disagree.append(Panel("mask", (stack != stack[0]).any(axis=0) & valid,
                               f"{short_name(product)}: methods disagree", valid))
plots.panels_figure([rows_disagree], legend=False)
plt.show()
