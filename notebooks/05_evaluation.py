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
# The paper reports, on its real human-labelled test scenes, overall accuracy 93 % for Deep
# F-Mask against 75 % for Fmask 4; the numbers here are for the synthetic scenes only, with the
# short training of this profile.

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

# %%
import warnings
from pathlib import Path

import matplotlib.pyplot as plt

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto without ipywidgets
from dfmask_lib import plots
from dfmask_lib.classes import CLASS_NAMES
from dfmask_lib.evaluate import evaluate_files
from dfmask_lib.fmask import ensure_fmask
from dfmask_lib.metrics import format_table, scores_table
from dfmask_lib.products import find_products
from dfmask_lib.predict import predict_product
from dfmask_lib.reader import read_labels, read_product
from dfmask_lib.selftrain import load_manifest

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
pooled = {name: ev.pooled for name, ev in evaluations.items()}
print(format_table(scores_table(pooled)))
print()
print(format_table([{"method": name, "OA": s.oa,
                     **{f"F1 {CLASS_NAMES[c]}": v for c, v in s.f1.items()}, "mIoU": s.miou}
                    for name, s in pooled.items()]))
teacher, last = pooled["Fmask (teacher)"], list(pooled.values())[-1]
print(f"\n{list(pooled)[-1]} vs its teacher Fmask: OA {last.oa:.3f} vs {teacher.oa:.3f} "
      f"({100 * (last.oa - teacher.oa):+.1f} points), mIoU {last.miou:.3f} vs {teacher.miou:.3f}")

# %% [markdown]
# ## 3. Per scene
#
# Overall accuracy and mIoU of each method on each TEST scene: the pooled numbers can hide a
# scene where a method fails.

# %%
scene_names = evaluations["Fmask (teacher)"].names
rows = []
for scene in scene_names:
    row = {"scene": scene}
    for name, ev in evaluations.items():
        row[f"{name} OA"] = ev.scores(scene).oa
    rows.append(row)
print(format_table(rows))
print()
print(format_table([{"scene": scene, **{f"{name} mIoU": ev.scores(scene).miou
                                        for name, ev in evaluations.items()}}
                    for scene in scene_names]))

# %% [markdown]
# ## 4. Confusion matrices
#
# Row-normalised (each truth class sums to 1: the diagonal is the recall); the "no data" column
# counts labelled pixels a method left without a class.

# %%
n = len(pooled)
fig, axes = plt.subplots((n + 2) // 3, 3, figsize=(18, 5.2 * ((n + 2) // 3)), squeeze=False,
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
columns = ["truth"] + list(maps)
fig, axes = plt.subplots(len(shown), len(columns) + 1,
                         figsize=(2.9 * (len(columns) + 1), 3.1 * len(shown)), squeeze=False,
                         layout="constrained")
for i, (row, product) in enumerate(zip(axes, shown)):
    scene = read_product(product, bands=("B02", "B03", "B04"), progress=False)
    plots.rgb_figure(scene.bands(("B04", "B03", "B02")), scene.valid, percentiles=stretch,
                     ax=row[0], title=f"{scene.metadata.tile_id} RGB")
    truth, _ = read_labels(next(product.glob("GRANULE/*/IMG_DATA/*_LABELS.tif")))
    panels = [truth] + [read_labels(maps[name][i])[0] for name in maps]
    for ax, title, classes in zip(row[1:], columns, panels):
        plots.classmap_figure(classes, title=title, ax=ax, legend=False)
        ax.title.set_fontsize("small")
fig.legend(handles=plots.class_legend_handles(), loc="outside lower center",
           ncol=6, frameon=False, fontsize="small")
plt.show()
