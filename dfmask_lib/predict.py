"""Prediction: a trained U-Net over a whole scene, blended from overlapping windows.

Method (Nambiar et al. 2022, Remote Sens. 14:1825, doi:10.3390/rs14081825, "Prediction"; the
authors' code used 510 px windows at stride 408, overwrote the overlaps and trimmed the wrong
axis, leaving 3 px zero strips on every scene edge — none of that is reproduced):

* the scene is covered by overlapping windows on the 20 m grid (default 608 px, overlap 64,
  starts on the network's 32 px pooling grid; :func:`dfmask_lib.windows.prediction_windows`),
  batched through the network;
* the softmax outputs of overlapping windows are **blended** with a taper that is positive
  everywhere (:func:`dfmask_lib.windows.blend_weights`): every pixel is covered, none is 0
  because of the tiling;
* class = argmax of the blended softmax over classes 1-5 (the network never predicts class 0,
  as in :func:`dfmask_lib.train.classes_from_logits`); pixels without data get class 0.

Pure core: :func:`predict_array` (a float32 (C, H, W) input stack, as
:func:`dfmask_lib.patches.input_stack` makes it). I/O edge: :func:`predict_product` (read a
product in row strips with bounded memory, predict, write a Cloud-Optimized GeoTIFF, score
against ``*LABELS.tif`` when there is one). Both run the same window loop
(:func:`blend_blocks`), so a product predicted strip by strip equals its array predicted at
once.

Mixed precision (``amp``) is **opt-in**: it changes the class of some pixels
(``benchmarks/predict_tile.py``, 2026-12: 0.08-0.12 % of a 2048 px crop with the book's
trained stage-0 model) and is not always faster: on the 2-core benchmark host (AVX-512 BF16,
no AMX) bf16 inference ran at 0.75-0.9x the fp32 speed; on CPUs with AMX and on GPUs it is
the faster choice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .cache import Recipe, is_fresh, read_record, record, sidecar
from .classes import CLASS_NAMES, NODATA, SCORED_CLASSES
from .config import config_to_dict, config_to_json, load_config
from .device import autocast, resolve_device
from .errors import BandError, ConfigError, DataFileError, DfmaskError, LabelError, \
    MissingDataError, ProductError
from .metrics import Scores, confusion_matrix, scores
from .patches import INPUT_SETS, bands_for, input_stack
from .progress import disable_bar
from .windows import strip_rows_for
from .windows import ALIGN, DEFAULT_OVERLAP, DEFAULT_WINDOW, blend_weights, check_tiling, \
    prediction_windows

__all__ = [
    "PREDICTION_SUFFIX", "PROBABILITY_SUFFIX", "PredictConfig", "Prediction", "PredictResult",
    "blend_blocks", "classes_from_probabilities", "predict_array", "predict_product",
    "default_output", "probability_output", "input_set_for", "resolve_checkpoint",
    "is_prediction_file", "class_fractions", "find_labels",
]

log = logging.getLogger(__name__)

#: The class map's name ends so: ``T<tile>_<datetime>_DFMASK_CLASSES.tif``. Never ``*FMASK.tif``
#: (the label glob of make-data would take a prediction for Fmask labels) nor ``*LABELS.tif``.
PREDICTION_SUFFIX = "_DFMASK_CLASSES.tif"
#: The optional probability map beside it (see :func:`dfmask_lib.writer.probability_writer`).
PROBABILITY_SUFFIX = "_DFMASK_PROB.tif"

#: Reads rows ``r0 .. r1`` of a scene: (float32 (C, r1 - r0, W) input, bool (r1 - r0, W) valid).
RowReader = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PredictConfig:
    """How a scene is predicted (saved as ``DFMASK_CONFIG`` in every output GeoTIFF).

    Attributes:
        window: prediction window (px on the 20 m grid); a multiple of 32 so that every
            stage U-Net takes it and all windows share one pooling grid
            (:mod:`dfmask_lib.windows`). The authors used 510.
        overlap: px shared by neighbouring windows, blended with a sin**2 taper; a multiple of 32.
        batch_size: windows per forward pass; 2 x 608 px of stage 3 take about 1.1 GB on CPU
            (larger batches are no faster there; on a GPU try 8-16).
        amp: bf16 (CPU) / bf16-or-fp16 (CUDA) autocast. Opt-in: faster, but it changes the
            argmax of a few pixels (measured by ``benchmarks/predict_tile.py``).
        channels_last: NHWC memory format: about 1.3x faster U-Net inference on CPU, fp32
            numbers equal up to rounding.
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda[:N]".
        strip_rows: rows read from the product at a time; None = :func:`strip_rows_for` the
            product's width (about 6 Mpx, a multiple of 1024 rows: 1024 for a 5490 px tile),
            so that memory does not grow with the tile. Memory and speed only, not the result.
        probabilities: also write the class probabilities (``*_DFMASK_PROB.tif``).
        panel_windows: windows per column panel of :func:`blend_blocks` (4: panels of
            2240 px for 608 px windows), so that its buffers do not grow with the tile's
            width. Memory and speed only, not the result.
    """

    window: int = DEFAULT_WINDOW
    overlap: int = DEFAULT_OVERLAP
    batch_size: int = 2
    amp: bool = False
    channels_last: bool = True
    device: str = "auto"
    strip_rows: int | None = None
    probabilities: bool = False
    panel_windows: int = 4

    def __post_init__(self) -> None:
        check_tiling(self.window, self.overlap, ALIGN)
        if self.batch_size < 1 or self.panel_windows < 1 or (self.strip_rows is not None
                                                             and self.strip_rows < 1):
            raise ConfigError(f"batch_size, panel_windows and strip_rows must be >= 1, got "
                              f"{self.batch_size}, {self.panel_windows}, {self.strip_rows}")


@dataclass(frozen=True, eq=False)
class Prediction:
    """The prediction of one scene on its grid.

    Attributes:
        classes: uint8 (H, W) project codes 1-5; 0 where the input has no data.
        confidence: float32 (H, W) blended softmax probability of the predicted class (0 where
            class 0).
        probabilities: float32 (6, H, W) blended softmax of classes 0-5 (0 where no data),
            when asked for, else None.
    """

    classes: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class PredictResult:
    """What :func:`predict_product` did.

    Attributes:
        path: the class map GeoTIFF. probabilities_path: the probability GeoTIFF or None.
        checkpoint: the model's checkpoint. shape: (H, W) of the 20 m grid.
        class_fractions: class name -> share of the observed pixels (classes 1-5).
        scores: against the product's ``*LABELS.tif`` (None without one); label_path: that file.
        seconds: wall time of the call. mpx_per_s: megapixels of the grid per second (None
            when skipped). skipped: the output was up to date and was not recomputed.
    """

    path: Path
    probabilities_path: Path | None
    checkpoint: Path
    shape: tuple[int, int]
    class_fractions: dict[str, float]
    scores: Scores | None
    label_path: Path | None
    seconds: float
    mpx_per_s: float | None
    skipped: bool


# --------------------------------------------------------------------------- pure core


def classes_from_probabilities(probabilities: np.ndarray, valid: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray]:
    """Class map and top probability of blended softmax outputs.

    Args:
        probabilities: float32 (6, H, W), classes 0-5.
        valid: bool (H, W); False pixels get class 0 and confidence 0.

    Returns:
        uint8 (H, W) argmax over classes 1-5 (+1), float32 (H, W) its probability.
    """
    if probabilities.ndim != 3 or probabilities.shape[0] != 6 \
            or valid.shape != probabilities.shape[1:]:
        raise BandError(f"need probabilities (6, H, W) and valid (H, W), got "
                        f"{probabilities.shape} and {valid.shape}")
    scored = probabilities[1:]
    classes = (np.argmax(scored, axis=0) + 1).astype(np.uint8)
    top = np.max(scored, axis=0).astype(np.float32)
    classes[~valid] = NODATA
    top[~valid] = 0.0
    return classes, top


def _model_factor(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "multiple", 1))


def _check_model(model: nn.Module, n_channels: int) -> None:
    config = getattr(model, "config", None)
    expected = getattr(config, "in_channels", None)
    if expected is not None and expected != n_channels:
        names = {len(v): k for k, v in INPUT_SETS.items()}
        raise BandError(
            f"the model takes {expected} input channels ({names.get(expected, 'unknown set')}) "
            f"but the input has {n_channels} ({names.get(n_channels, 'unknown set')}); "
            "predict with the input set the model was trained with")
    if ALIGN % _model_factor(model):
        raise ConfigError(f"the model needs inputs in multiples of {_model_factor(model)} px; "
                          f"prediction windows are aligned to {ALIGN} px (U-Net depth <= 6)")


def blend_blocks(
    model: nn.Module,
    read_rows: RowReader,
    shape: tuple[int, int],
    config: PredictConfig = PredictConfig(),
    *,
    progress: bool | str = False,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Predict a scene window by window; yield its finished blocks, row-major.

    The window loop shared by :func:`predict_array` and :func:`predict_product`: windows of
    :func:`dfmask_lib.windows.prediction_windows` (zero-padded beyond the scene), taken one
    row of windows at a time and, within it, in column panels of ``config.panel_windows``
    windows, batched within a panel, windows without any valid pixel skipped. Softmax x
    :func:`~dfmask_lib.windows.blend_weights` is summed into a panel buffer (6 class sums and
    the summed weights); a block is divided by its summed weights and yielded once no later
    window touches it. What a later window will touch is carried: the columns shared with the
    next panel (one overlap wide, the window's height) and the rows shared with the next row
    of windows (one overlap high, the scene's width). Memory: the panel buffer
    (7 x window x panel width float32, 38 MB for the defaults), the row carry (7 x overlap x
    W float32, 10 MB for a 5490 px tile) and the rows being read; none of it scales with the
    tile but the row carry.

    Args:
        model: the U-Net (moved to ``config.device`` and put in eval mode here).
        read_rows: ``read_rows(r0, r1)`` -> (float32 (C, r1 - r0, W) input, bool valid);
            called with increasing, overlapping row ranges inside the scene.
        shape: (H, W) of the scene.
        config: window, overlap, batch size, panel width, amp, channels_last, device.
        progress: False, True or the text of a tqdm bar over windows.

    Yields:
        (row0, col0, float32 (6, h, w) blended softmax of that block (0 where no window
        counted, i.e. no data), bool (h, w) valid). The blocks tile the scene once, row-major:
        all blocks of rows row0 .. row0 + h, left to right, then the next rows.
    """
    height, width = (int(v) for v in shape)
    device = resolve_device(config.device)
    model.to(device).eval()
    memory = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(memory_format=memory)
    windows = prediction_windows((height, width), config.window, config.overlap, ALIGN)
    wh, ww = int(windows[0, 2]), int(windows[0, 3])
    row_starts = [int(r) for r in np.unique(windows[:, 0])]
    col_starts = [int(c) for c in np.unique(windows[:, 1])]
    canvas_w = col_starts[-1] + ww
    step = config.panel_windows
    panels = [col_starts[k:k + step] for k in range(0, len(col_starts), step)]
    weight = torch.from_numpy(blend_weights(wh, ww, config.overlap)).to(device)
    buf = torch.zeros((7, wh, max(p[-1] - p[0] for p in panels) + ww), dtype=torch.float32,
                      device=device)  # 0-5 weighted class sums, 6 summed weights
    top: torch.Tensor | None = None  # the previous window row's sums over the rows it shares
    desc = progress if isinstance(progress, str) else "predicting"
    bar = tqdm(total=len(windows), desc=desc, unit="window", leave=False,
               disable=disable_bar(bool(progress)))
    checked = False
    try:
        for i, r0 in enumerate(row_starts):
            r1 = min(r0 + wh, height)
            image, valid = read_rows(r0, r1)
            if not checked:
                _check_model(model, image.shape[0])
                checked = True
            if image.shape[1:] != (r1 - r0, width) or valid.shape != (r1 - r0, width):
                raise BandError(f"rows {r0}:{r1} came as {image.shape} / {valid.shape}, "
                                f"expected (C, {r1 - r0}, {width})")
            last_row = i == len(row_starts) - 1
            done = (r1 - r0) if last_row else row_starts[i + 1] - r0
            below = None if last_row else torch.zeros((7, wh - done, canvas_w),
                                                      dtype=torch.float32, device=device)
            carry: torch.Tensor | None = None  # the previous panel's sums over shared columns
            for k, panel in enumerate(panels):
                a, end = panel[0], panel[-1] + ww
                acc = buf[:, :, : end - a]
                acc.zero_()
                shared = 0 if carry is None else carry.shape[2]
                if carry is not None:  # holds the row carry of these columns already
                    acc[:, :, :shared] = carry
                if top is not None:
                    acc[:, : top.shape[1], shared:] += top[:, :, a + shared:end]
                todo = [c for c in panel if valid[:, c:c + ww].any()]
                bar.update(len(panel) - len(todo))
                for b in range(0, len(todo), config.batch_size):
                    cols = todo[b:b + config.batch_size]
                    batch = np.zeros((len(cols), image.shape[0], wh, ww), dtype=np.float32)
                    for j, c in enumerate(cols):  # zero-padded beyond the scene
                        part = image[:, :, c:c + ww]
                        batch[j, :, : part.shape[1], : part.shape[2]] = part
                    x = torch.from_numpy(batch).to(device).contiguous(memory_format=memory)
                    with torch.no_grad():  # per batch: a block around `yield` would leak
                        with autocast(device, config.amp):
                            logits = model(x)
                        prob = torch.softmax(logits.float(), dim=1) * weight
                        for j, c in enumerate(cols):
                            acc[:6, :, c - a:c - a + ww] += prob[j]
                            acc[6, :, c - a:c - a + ww] += weight
                    bar.update(len(cols))
                last_panel = k == len(panels) - 1
                # columns no later panel touches
                final = (end if last_panel else panels[k + 1][0]) - a
                carry = None if last_panel else acc[:, :, final:].clone()
                if below is not None:
                    below[:, :, a:a + final] = acc[:, done:, :final]
                w_out = min(a + final, width) - a
                if w_out > 0:
                    blended = acc[:6, :done, :w_out] / acc[6, :done, :w_out].clamp_min(1e-30)
                    yield r0, a, blended.cpu().numpy(), valid[:done, a:a + w_out]
            top = below
    finally:
        bar.close()


def predict_array(
    model: nn.Module,
    image: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    window: int = DEFAULT_WINDOW,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = 2,
    amp: bool = False,
    channels_last: bool = True,
    device: str = "auto",
    probabilities: bool = False,
    progress: bool | str = False,
) -> Prediction:
    """Predict the classes of a whole scene held in memory (the pure core of prediction).

    Args:
        model: a :class:`dfmask_lib.unet.UNet` (moved to ``device``, eval mode); its
            ``config.in_channels`` must equal C.
        image: float32 (C, H, W) network input in the model's channel order
            (:data:`dfmask_lib.patches.INPUT_SETS`: "swirndsi" B02 B03 B04 B08 B11 B12 NDSI,
            or "all13"), reflectance as :func:`dfmask_lib.patches.input_stack` makes it;
            any H, W (smaller than a window too).
        valid: bool (H, W) pixels with data; default: pixels not 0 in every channel (the
            ``input_stack`` convention for no data).
        window, overlap: tiling (multiples of 32, see :mod:`dfmask_lib.windows`).
        batch_size: windows per forward pass.
        amp: bf16/fp16 autocast; opt-in, it changes the argmax of a few pixels.
        channels_last: NHWC memory format (faster on CPU, same numbers up to rounding).
        device: "auto", "cpu" or "cuda[:N]".
        probabilities: also return the blended softmax (6, H, W) float32 (4 x 6 bytes per
            pixel: 723 MB for a 5490 px tile).
        progress: tqdm bar over windows (True or its text).

    Returns:
        A :class:`Prediction`: classes uint8 (H, W) (1-5, 0 where no data), confidence
        float32 (H, W), probabilities or None.

    Raises:
        BandError: not float32 (C, H, W), ``valid`` of another shape, or C differs from the
            model's input channels. ConfigError: bad window/overlap/batch size or device.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.dtype != np.float32:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise BandError(f"image must be a float32 (C, H, W) numpy array (dfmask_lib.patches."
                        f"input_stack), got {got}")
    c, h, w = image.shape
    if min(c, h, w) < 1:
        raise BandError(f"image is empty {image.shape}")
    if valid is None:
        valid = (image != 0).any(axis=0)
    elif valid.shape != (h, w) or valid.dtype != bool:
        raise BandError(f"valid must be bool {(h, w)}, got {valid.dtype} {valid.shape}")
    config = PredictConfig(window=window, overlap=overlap, batch_size=batch_size, amp=amp,
                           channels_last=channels_last, device=device)
    _check_model(model, c)
    classes = np.zeros((h, w), dtype=np.uint8)
    confidence = np.zeros((h, w), dtype=np.float32)
    probs = np.zeros((6, h, w), dtype=np.float32) if probabilities else None

    def read_rows(r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        return image[:, r0:r1], valid[r0:r1]

    for r0, c0, p, v in blend_blocks(model, read_rows, (h, w), config, progress=progress):
        r1, c1 = r0 + v.shape[0], c0 + v.shape[1]
        classes[r0:r1, c0:c1], confidence[r0:r1, c0:c1] = classes_from_probabilities(p, v)
        if probs is not None:
            probs[:, r0:r1, c0:c1] = np.where(v, p, 0.0)
    return Prediction(classes, confidence, probs)


def class_fractions(classes: np.ndarray) -> dict[str, float]:
    """Share of each class 1-5 among the observed (non-0) pixels of a class map (0 if none)."""
    counts = np.bincount(classes.ravel(), minlength=256)[: max(SCORED_CLASSES) + 1]
    observed = int(counts[list(SCORED_CLASSES)].sum())
    return {CLASS_NAMES[c]: (float(counts[c]) / observed if observed else 0.0)
            for c in SCORED_CLASSES}


# --------------------------------------------------------------------------- names and checkpoints


def is_prediction_file(path: str | os.PathLike) -> bool:
    """True for the files :func:`predict_product` writes (never products to predict)."""
    name = Path(path).name
    return name.endswith((PREDICTION_SUFFIX, PROBABILITY_SUFFIX))


def default_output(product: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`predict_product` writes the class map of ``product``:
    :func:`dfmask_lib.reader.output_path` with :data:`PREDICTION_SUFFIX` (``out_dir/<name>``;
    in a SAFE's ``IMG_DATA`` named like its band files, where ``dfmask fmask`` puts
    ``*_FMASK.tif``; else beside the product)."""
    from .reader import output_path

    return output_path(product, PREDICTION_SUFFIX, out_dir)


def probability_output(classes_path: str | os.PathLike) -> Path:
    """The probability map beside a class map: ``..._DFMASK_PROB.tif``."""
    path = Path(classes_path)
    if path.name.endswith(PREDICTION_SUFFIX):
        return path.with_name(path.name[: -len(PREDICTION_SUFFIX)] + PROBABILITY_SUFFIX)
    return path.with_name(path.stem + PROBABILITY_SUFFIX)


def input_set_for(in_channels: int) -> str:
    """The input set of a model with ``in_channels`` inputs (7 "swirndsi", 13 "all13").

    Raises:
        DataFileError: no input set has that many channels.
    """
    for name, channels in INPUT_SETS.items():
        if len(channels) == in_channels:
            return name
    known = ", ".join(f"{k} {len(v)}" for k, v in INPUT_SETS.items())
    raise DataFileError(f"the checkpoint's model takes {in_channels} input channels; no input "
                        f"set has that many ({known}); use a dfmask checkpoint")


def _finished(stage_dir: Path) -> bool:
    """Whether a stage's training run has ended (early stop or max epochs), from its logs."""
    from .train import TrainConfig, should_stop

    try:
        history = json.loads((stage_dir / "log.json").read_text())
        cfg = load_config(TrainConfig, stage_dir / "config.json")
        mious = [float(row["val_miou"]) for row in history]
    except (OSError, ValueError, KeyError, TypeError):
        return True  # no readable logs (a bare best.pt): nothing says it is still training
    return len(history) >= cfg.max_epochs or should_stop(mious, cfg.ma_window, cfg.patience)


def resolve_checkpoint(experiment: str | os.PathLike) -> Path:
    """The ``best.pt`` an experiment name or folder stands for.

    ``experiment`` is ``EXP`` (the folder ``runs/EXP`` of the project, see
    :func:`dfmask_lib.train.run_dir`; or any folder path): the ``best.pt`` of its highest
    finished ``stage<N>`` — for a self-training experiment (``manifest.json``) the highest
    stage its manifest marks done (:func:`dfmask_lib.selftrain.best_checkpoint`); for a folder
    of ``dfmask train`` runs the highest whose logs show it ended (early stop or max epochs; a
    stage still training is passed over with a warning, unless none has ended). ``EXP/stage2``
    (or a stage folder path): that folder's ``best.pt``.

    Raises:
        MissingDataError: no such folder, or no best.pt in it or its stage folders.
    """
    from .train import run_dir

    text = str(experiment)
    candidates = [run_dir(text, 0).parent, Path(text)]
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        raise MissingDataError(f"no experiment folder {candidates[0]} (nor a folder {text}); "
                               f"train with `dfmask train {text}` or give --checkpoint FILE")
    if (folder / "best.pt").is_file():
        return folder / "best.pt"
    if (folder / "manifest.json").is_file():  # a self-training experiment says what is done
        from .selftrain import best_checkpoint

        return best_checkpoint(folder)
    stages = sorted((int(m.group(1)), d) for d in folder.iterdir()
                    if (m := re.fullmatch(r"stage(\d+)", d.name)) and (d / "best.pt").is_file())
    if not stages:
        raise MissingDataError(f"{folder} holds no best.pt, neither itself nor in stage<N>/ "
                               "folders; train a stage first or give --checkpoint FILE")
    finished = [s for s in stages if _finished(s[1])]
    if not finished:
        log.warning("no stage of %s has finished training; using stage %d's best.pt so far",
                    folder, stages[-1][0])
        return stages[-1][1] / "best.pt"
    if finished[-1] != stages[-1]:
        log.warning("stage %d of %s is still training; using stage %d (give -e %s/stage%d "
                    "for the other)", stages[-1][0], folder, finished[-1][0], text, stages[-1][0])
    return finished[-1][1] / "best.pt"


def _load_model(checkpoint: Path, device: torch.device) -> tuple[nn.Module, Any, dict, str]:
    from .train import load_checkpoint

    # DataFileError from there for weights that do not fit their config
    model, train_cfg, ckpt = load_checkpoint(checkpoint, device=str(device))
    return model, train_cfg, ckpt, input_set_for(train_cfg.in_channels)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- I/O edge


class _ProductRows:
    """A :data:`RowReader` over a product: reads strips of ``strip_rows`` rows into one buffer
    of ``strip_rows + keep_rows`` rows, keeping the rows a later call still asks for.

    ``keep_rows`` >= the window height (``PredictConfig.window``) is enough: a call asks for
    at most a window's rows, so it keeps fewer rows than a window and reads at most a strip or
    a window's rows more.
    """

    def __init__(self, product: Path, input_set: str, grid: Any, strip_rows: int,
                 options: Mapping[str, Any], keep_rows: int) -> None:
        self.product, self.input_set, self.grid = product, input_set, grid
        self.strip_rows, self.options = strip_rows, dict(options)
        self.bands = bands_for(input_set)
        self.start = self.end = 0
        rows = min(grid.shape[0], strip_rows + keep_rows)
        self.image = np.zeros((len(INPUT_SETS[input_set]), rows, grid.shape[1]), np.float32)
        self.valid = np.zeros((rows, grid.shape[1]), bool)
        self.metadata = None

    def read(self, r0: int, r1: int) -> Any:
        """The scene of rows r0 .. r1, checked to lie on the planned grid."""
        from .reader import Window, read_product

        window = Window(0, r0, self.grid.shape[1], r1 - r0)
        scene = read_product(self.product, window=window, bands=self.bands, progress=False,
                             **self.options)
        missing = [b for b in self.bands if b not in scene.band_names]
        if missing:  # a GeoTIFF stack's declared bands: read_product returns what it has
            raise BandError(f"{self.product.name} has no {', '.join(missing)}, which the "
                            f"model's input set {self.input_set!r} needs "
                            f"({' '.join(INPUT_SETS[self.input_set])}); use a model of "
                            "another input set or a product with these bands")
        want = self.grid.window(window)
        if scene.shape != want.shape or not np.allclose(tuple(scene.transform)[:6],
                                                        tuple(want.transform)[:6]):
            raise ProductError(f"{self.product}: rows {r0}:{r1} were read on another grid "
                               f"({scene.shape}, {scene.transform}) than planned "
                               f"({want.describe()})")
        return scene

    def __call__(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        if r1 > self.end:
            stop = min(self.grid.shape[0], max(r1, self.end + self.strip_rows))
            keep = max(0, r0 - self.start)  # rows before r0 are not asked for again
            kept = self.end - self.start - keep
            rows = kept + stop - self.end
            self.image[:, :kept] = self.image[:, keep:keep + kept]
            self.valid[:kept] = self.valid[keep:keep + kept]
            scene = self.read(self.end, stop)
            if self.metadata is None:
                self.metadata = scene.metadata
            input_stack(scene, self.input_set, out=self.image[:, kept:rows])
            self.valid[kept:rows] = scene.valid
            del scene
            self.start, self.end = self.start + keep, stop
        a, b = r0 - self.start, r1 - self.start
        return self.image[:, a:b], self.valid[a:b]


def find_labels(product: str | os.PathLike) -> Path | None:
    """The human labels of a product: ``*LABELS.tif`` in a SAFE's IMG_DATA (or a band folder),
    or ``<stem>*LABELS.tif`` beside a GeoTIFF stack or zip; None if there are none."""
    from .reader import find_label_file, product_stem

    path = Path(product)
    if path.is_dir():
        return find_label_file(path, kind="LABELS")
    hits = sorted(path.parent.glob(f"{product_stem(path)}*LABELS.tif"))
    return hits[0] if hits else None


def _read_truth(product: Path, grid: Any) -> tuple[np.ndarray | None, Path | None]:
    """The product's human labels (uint8 project codes), checked to lie on ``grid``; or None."""
    from .reader import read_labels
    from .reader.labels import check_label_grid

    label_path = find_labels(product)
    if label_path is None:
        return None, None
    truth, profile = read_labels(label_path)
    check_label_grid(profile, grid, label_path.name, product.name)
    return truth, label_path


def _score(truth: np.ndarray | None, classes: np.ndarray, rows: int = 512) -> Scores | None:
    """Scores of a class map against its labels, the confusion matrix summed over row blocks
    (its int64 intermediates of a whole tile would take ~0.7 GB)."""
    if truth is None:
        return None
    if truth.shape != classes.shape:
        raise LabelError(f"labels {truth.shape} and prediction {classes.shape} differ in shape")
    return scores(sum(confusion_matrix(truth[r:r + rows], classes[r:r + rows])
                      for r in range(0, truth.shape[0], rows)))


def predict_product(
    checkpoint: str | os.PathLike,
    product: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    reader_options: Mapping[str, Any] | None = None,
    window: int = DEFAULT_WINDOW,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = 2,
    amp: bool = False,
    device: str = "auto",
    probabilities: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    config: PredictConfig | None = None,
) -> PredictResult:
    """Predict a Sentinel-2 L1C product with a trained model and write its class map.

    The product is read in row strips of about 6 Mpx (only the bands the
    model needs: B02 B03 B04 B08 B11 B12 for "swirndsi"), predicted window by window
    (:func:`blend_blocks`) and written on its 20 m grid as a Cloud-Optimized GeoTIFF
    (:func:`dfmask_lib.writer.write_classmap` with overviews): uint8 classes 0-5, nodata 0,
    the authors' colour table, class names, ``DFMASK_CONFIG`` (the :class:`PredictConfig`),
    ``DFMASK_TRAIN_CONFIG`` (the checkpoint's TrainConfig), ``DFMASK_CHECKPOINT`` /
    ``DFMASK_CHECKPOINT_SHA256`` / ``DFMASK_CHECKPOINT_EPOCH``, ``DFMASK_VERSION``, the
    input set and product options. Memory is bounded: the strips hold about 6 Mpx (plus the
    rows a window row still needs, in one buffer filled in place), and the blending runs in
    column panels of fixed width (:func:`blend_blocks`); what still grows with the tile is
    small (the uint8 class map and labels, 2 bytes per pixel, and the row carry of the
    blending). Peak RSS on a 2748 / 5490 px tile (``benchmarks/predict_tile.py``,
    2026-12-01): stage 0 1.38 / 1.51 GB (x1.09; x1.19 with the full-width buffers before),
    stage 3 1.93 / 2.02 GB (x1.05).

    Caching: a sidecar (:mod:`dfmask_lib.cache`) records the checkpoint, the product, the
    config, the reader options and the code version; an output that is up to date is not
    recomputed (``skipped``), unless ``overwrite``; a stale prediction (another checkpoint,
    product, setting or code version) is recomputed. An existing file that is not a dfmask
    prediction (no prediction recipe) is refused without ``overwrite``. When the product has human labels (:func:`find_labels`) the
    result holds the scores of the map against them.

    Args:
        checkpoint: a ``best.pt`` of ``dfmask train`` (see :func:`resolve_checkpoint`).
        product: SAFE folder, its zip, a folder of band files or a GeoTIFF stack (with
            ``reader_options`` such as ``band_names``).
        out: the class map ``.tif``; default :func:`default_output`.
        reader_options: keyword arguments of :func:`dfmask_lib.reader.read_product`
            (``band_names``, ``scale``, ``offset``, ``sun_zenith``, ``sun_azimuth``).
        window, overlap, batch_size, amp, device, probabilities: the :class:`PredictConfig`
            fields (ignored when ``config`` is given). ``amp`` is opt-in (see the module
            docstring); ``probabilities`` also writes ``*_DFMASK_PROB.tif``.
        overwrite: recompute and replace the outputs.
        progress: a tqdm bar over the windows of the tile.

    Returns:
        A :class:`PredictResult`.

    Raises:
        MissingDataError: no checkpoint or no product. DataFileError: not a dfmask checkpoint,
            or a model for another input set. ProductError / BandError: an unreadable product
            or one without the model's bands. ConfigError: an existing output without
            ``overwrite``, an output that is not ``.tif``, bad settings. LabelError: labels
            off the product's grid.
    """
    from .writer import probability_writer, write_classmap

    t0 = time.perf_counter()
    cfg = config if config is not None else PredictConfig(
        window=window, overlap=overlap, batch_size=batch_size, amp=amp, device=device,
        probabilities=probabilities)
    if not isinstance(cfg, PredictConfig):
        raise ConfigError(f"config must be a PredictConfig, got {type(cfg).__name__}")
    checkpoint, product = Path(checkpoint), Path(product)
    options = dict(reader_options or {})
    if not checkpoint.is_file():
        raise MissingDataError(f"no checkpoint at {checkpoint}; train with `dfmask train` "
                               "first, or give the path of a best.pt")
    if not product.exists():
        raise MissingDataError(f"{product} does not exist; give a .SAFE folder, its .zip, a "
                               "folder of band files or a GeoTIFF")
    target = Path(out) if out is not None else default_output(product)
    if target.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"output {target} must be a .tif GeoTIFF")
    prob_target = probability_output(target) if cfg.probabilities else None
    recipe = Recipe("prediction", (checkpoint, product), _result_fields(cfg),
                    extra={"reader_options": json.loads(json.dumps(options, default=list))})
    if not overwrite and is_fresh(target, recipe) and (prob_target is None
                                                       or prob_target.exists()):
        return _reread(target, prob_target, checkpoint, product, t0)
    rec = read_record(target)
    if target.exists() and not overwrite and (rec is None or rec.get("kind") != "prediction"):
        # a stale prediction of dfmask's own is recomputed (dfmask_lib.cache); a file it did
        # not write is never replaced silently
        raise ConfigError(f"{target} exists and is not a dfmask prediction; pass "
                          "overwrite=True (--overwrite) to replace it, or choose another output")

    dev = resolve_device(cfg.device)
    model, train_cfg, ckpt, input_set = _load_model(checkpoint, dev)
    from .reader import no_observed_pixel, product_grid

    grid = product_grid(product, 20)
    truth, label_path = _read_truth(product, grid)  # refuse labels off the grid before the work
    strip = cfg.strip_rows or strip_rows_for(grid.shape[1])
    rows = _ProductRows(product, input_set, grid, strip, options, keep_rows=cfg.window)
    height, width = grid.shape
    classes = np.zeros((height, width), dtype=np.uint8)
    bar = progress and f"predicting {product.name}"
    tags = {"DFMASK_TRAIN_CONFIG": config_to_json(train_cfg),
            "DFMASK_CHECKPOINT": str(checkpoint), "DFMASK_CHECKPOINT_SHA256": _sha256(checkpoint),
            "DFMASK_CHECKPOINT_EPOCH": ckpt.get("epoch", ""), "DFMASK_INPUT_SET": input_set,
            "DFMASK_BANDS": json.dumps(list(INPUT_SETS[input_set])), "SOURCE": product.name,
            "PRODUCT_OPTIONS": json.dumps(options, sort_keys=True, default=list)}
    sidecar(target).unlink(missing_ok=True)  # an interrupted run leaves nothing that looks fresh
    with ExitStack() as stack:
        prob = None if prob_target is None else stack.enter_context(probability_writer(
            prob_target, (height, width), crs=grid.crs, transform=grid.transform, config=cfg,
            tags=tags))
        for r0, c0, p, v in blend_blocks(model, rows, (height, width), cfg, progress=bar):
            classes[r0:r0 + v.shape[0], c0:c0 + v.shape[1]] = classes_from_probabilities(p, v)[0]
            if prob is not None:
                prob.write(r0, p, v, col0=c0)
        if not classes.any():  # inside the writers' context: the probabilities are dropped too
            raise no_observed_pixel(product)
    meta = rows.metadata
    if meta is not None:
        tags.update(SENSING_TIME=meta.sensing_time, TILE_ID=meta.tile_id)
    try:
        write_classmap(target, classes, crs=grid.crs, transform=grid.transform, config=cfg,
                       tags=tags, overviews=True)
    except DfmaskError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot write {target} ({exc}); choose a writable output") from None
    if prob_target is not None:
        record(prob_target, recipe)  # marks it an artefact: not an input of its SAFE folder
    record(target, recipe)
    found = _score(truth, classes)
    del truth
    seconds = time.perf_counter() - t0
    log.info("predicted %s -> %s in %.1f s", product, target, seconds)
    return PredictResult(target, prob_target, checkpoint, (height, width),
                         class_fractions(classes), found, label_path, seconds,
                         height * width / 1e6 / seconds, False)


#: PredictConfig fields that change speed and float rounding only, not the cache key.
_PERFORMANCE_FIELDS = ("batch_size", "strip_rows", "panel_windows", "channels_last", "device")


def _result_fields(cfg: PredictConfig) -> dict[str, Any]:
    """The fields of a config that change an output (its cache key)."""
    return {k: v for k, v in config_to_dict(cfg).items() if k not in _PERFORMANCE_FIELDS}


def _reread(target: Path, prob_target: Path | None, checkpoint: Path, product: Path,
            t0: float) -> PredictResult:
    """The result of an up-to-date output, from the file (class fractions and scores)."""
    import rasterio

    from .reader.resample import Grid

    log.info("%s is up to date; not recomputed (overwrite=True / --overwrite redoes it)", target)
    with rasterio.open(target) as ds:
        classes = ds.read(1)
        grid = Grid(ds.transform, (ds.height, ds.width), ds.crs)
    truth, label_path = _read_truth(product, grid)
    return PredictResult(target, prob_target, checkpoint, classes.shape,
                         class_fractions(classes), _score(truth, classes), label_path,
                         time.perf_counter() - t0, None, True)
