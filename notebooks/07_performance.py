# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Performance
#
# How fast and in how much memory the project's steps run on a small CPU machine: Fmask on a
# full Sentinel-2 tile, a training step of each stage U-Net, prediction of a full tile, and
# dfmask against the peers s2cloudless and ukis-csmask end to end. Each benchmark
# (`benchmarks/*.py`) writes its result as one JSON *record* into `benchmarks/records/`
# (`dfmask_lib.performance`), with the code version, the date, the machine and the arguments of
# the run; this chapter only reads those records. Every number below comes from a record, and
# every goal is checked against the record's numbers when the chapter runs.
#
# The speed of a shared machine drifts from minute to minute, often severalfold.
# Each benchmark therefore measures its reference (reading the bands, the fp32 variant, the
# peers) in the same run as what it compares, and the ratios are the figures to compare between
# records; the absolute times say what this machine did on that day. The tiles are synthetic
# and the dfmask models of the prediction benchmarks have random weights: their speed does not
# depend on the weights.

# %% tags=["parameters"]
# Folder of the benchmark records (benchmarks/*.py write them there).
record_dir = "benchmarks/records"

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt
import numpy as np

from dfmask_lib.display import setup_notebook, show_table
from dfmask_lib.performance import (TRAIN_GOAL_VARIANT, compare_tile_goals, compare_tile_table,
                                    describe_record, fmask_tile_goals, fmask_tile_table,
                                    fmask_tile_variants, is_missing, load_benchmarks,
                                    predict_tile_bf16,
                                    predict_tile_goals, predict_tile_table, record_rows,
                                    table_formats, train_step_goals, train_step_speedups,
                                    train_step_table)

setup_notebook()

# %% [markdown]
# ## The records
#
# Which code made each record, when, on which machine, and with which command (a missing record
# names the command that makes it).

# %%
records = load_benchmarks(record_dir)
overview = record_rows(records)
show_table(overview, digits=2, formats=table_formats(overview), max_columns=4)

# %% [markdown]
# ## Fmask on a full tile
#
# `benchmarks/fmask_tile.py` writes a seeded synthetic 13-band tile (textured land, a lake,
# clouds at four heights with the shadows they cast) as GeoTIFFs, reads it back with
# `read_product` (the reference) and runs `run_fmask` on it, in a process of its own: the wall
# time of each step, Fmask's time over the read's, and the peak resident memory of the process
# (reading and Fmask together, what `dfmask fmask` holds). The goals (issue 3) bound Fmask's wall
# time and the peak memory on the full tile.
#
# The same benchmark also runs Fmask as the command line does: `fmask_strips` reads only
# Fmask's nine bands (not B01, B05, B06 and B09), in strips of rows, and runs the same steps
# strip by strip (the same labels as `run_fmask`, bit for bit: the tests check it), keeping
# across strips only bit masks, percentile samples and, for the cloud objects and the shadow
# matching, whole-tile object labels (the table's `bytes/px` bounds them). It runs on the full
# tile, on the tile at half its side (memory against tile size: compare the two `peak GB`) and
# on a snowy polar tile with the sun 75° from zenith (issue 13), the setting of the paper's
# scenes.

# %%
rec = records["fmask_tile"]
print(describe_record(rec))
if not is_missing(rec):
    rows = fmask_tile_table(rec)
    show_table(rows, digits=2, formats=table_formats(rows), caption="Fmask on the synthetic tile")
    runs = fmask_tile_variants(rec)
    show_table(runs, digits=2, formats=table_formats(runs), max_columns=5,
               caption="Every run of the record: scene, tile side, sun, layers")
    goals = fmask_tile_goals(rec)
    show_table(goals, digits=2, formats=table_formats(goals), caption="Goals (issues 3 and 13)")

# %% [markdown]
# ## Training and inference of the stage U-Nets
#
# `benchmarks/train_step.py` times a full training step (forward, weighted cross-entropy,
# backward, Adam) on a batch of random 7-channel patches, and inference on half that batch,
# for each stage U-Net in four variants: fp32, fp32 with channels-last memory (CL), bf16 autocast,
# and both. The variants of a stage run interleaved, round after round, so that a load spike of
# the machine hits them alike; the figures are medians over the timed rounds and the speed-ups
# are over fp32 in the same run. The book's training runs use bf16 + channels-last: the goal is
# that it trains faster than fp32 on the machine measured.

# %%
rec = records["train_step"]
print(describe_record(rec))
if not is_missing(rec):
    rows = train_step_table(rec)
    show_table(rows, digits=2, formats=table_formats(rows),
               caption="Throughput per stage and variant")
    goals = train_step_goals(rec)
    show_table(goals, digits=2, formats=table_formats(goals),
               caption=f"Goal: {TRAIN_GOAL_VARIANT} training")

# %%
if not is_missing(rec):
    for device, speed in train_step_speedups(rec).items():
        fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), sharey=True, layout="constrained")
        x = np.arange(len(speed["stages"]))
        for ax, kind in zip(axes, ("train", "infer")):
            width = 0.8 / len(speed[kind])
            for i, (variant, values) in enumerate(speed[kind].items()):
                ax.bar(x - 0.4 + width * (i + 0.5), values, width, label=variant)
            ax.axhline(1.0, color="0.3", lw=0.8)
            ax.set_xticks(x, [f"stage {s}" for s in speed["stages"]])
            ax.set_title(f"{'training' if kind == 'train' else 'inference'} ({device})")
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_ylabel("speed-up over fp32")
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        plt.show()

# %% [markdown]
# ## Predicting a full tile
#
# `benchmarks/predict_tile.py` writes a synthetic L1C SAFE product with JPEG2000 bands at their
# native 10, 20 and 60 m resolutions, at the full tile size and at half its side, and, each in
# a process of its own, reads the model's six bands in one call (the reference: the mean of a
# read before and one after the predictions) and runs `predict_product` (read in strips,
# predict, write the COG) with each stage U-Net: wall time, megapixels per second, peak resident
# memory and the time over the read's. The goals (issue 9) bound the time over the read's per
# stage and the peak memory, and ask that the peak memory not grow with the tile. A second
# table compares bf16 autocast with fp32 on a crop: the share of valid pixels whose class
# changes, and the speeds (with the book's trained stage-0 model when it was found).

# %%
rec = records["predict_tile"]
print(describe_record(rec))
if not is_missing(rec):
    rows = predict_tile_table(rec)
    show_table(rows, digits=2, formats=table_formats(rows),
               caption="Prediction of the synthetic tile")
    goals = predict_tile_goals(rec)
    show_table(goals, digits=2, formats=table_formats(goals), caption="Goals (issue 9)")
    bf16 = predict_tile_bf16(rec)
    show_table(bf16, digits=2, formats=table_formats(bf16), caption="bf16 autocast against fp32")

# %% [markdown]
# ## Against the peers on a full tile
#
# `benchmarks/compare_tile.py` runs dfmask and the peers on the same synthetic product, end to
# end from the product on disk to the class map, each in a process of its own and in rotated
# order over the rounds: dfmask reads its bands in strips, predicts and writes its COG;
# s2cloudless and ukis-csmask 1.0 read their bands at 20 m and classify in memory. The table
# gives the median wall time, the largest peak memory and the speed-ups over each peer (the
# peer's wall time over the method's). The goals (issue 10) ask for given speed-ups over
# s2cloudless and for every stage to be at least as fast as ukis-csmask at equal resolution.

# %%
rec = records["compare_tile"]
print(describe_record(rec))
if not is_missing(rec):
    rows = compare_tile_table(rec)
    show_table(rows, digits=2, formats=table_formats(rows),
               caption="End to end on the synthetic tile")
    goals = compare_tile_goals(rec)
    show_table(goals, digits=2, formats=table_formats(goals), caption="Goals (issue 10)")
