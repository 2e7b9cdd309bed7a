"""``dfmask synth``: writes the splits; impossible arguments give one line and exit 2."""

from __future__ import annotations

import pytest

from dfmask_lib.cli import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_synth_writes_the_splits(tmp_path, capsys):
    code, out, _ = _run(["synth", str(tmp_path / "o"), "--n-train", "1", "--n-val", "0",
                         "--n-test", "1", "--size", "48", "--seed", "3"], capsys)
    assert code == 0 and "TRAIN: 1 products" in out
    assert len(list((tmp_path / "o" / "TEST").glob("*.SAFE"))) == 1
    assert not list((tmp_path / "o" / "VALIDATION").iterdir())


@pytest.mark.parametrize("extra, match", [
    (["--size", "100"], "multiple of 6"),
    (["--size", "6"], "multiple of 6"),
    (["--n-train", "-3"], "--n-train"),
    (["--n-train", "0", "--n-val", "0", "--n-test", "0"], "at least one scene"),
])
def test_impossible_arguments_exit_2_with_one_line(tmp_path, capsys, extra, match):
    code, _, err = _run(["synth", str(tmp_path / "o"), *extra], capsys)
    assert code == 2 and match in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_non_empty_outdir_needs_overwrite(tmp_path, capsys):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("x")
    code, _, err = _run(["synth", str(tmp_path / "o"), "--size", "48", "--n-train", "1",
                         "--n-val", "0", "--n-test", "0"], capsys)
    assert code == 2 and "--overwrite" in err and err.count("\n") == 1
    assert (tmp_path / "o" / "keep.txt").exists()
    code, _, _ = _run(["synth", str(tmp_path / "o"), "--size", "48", "--n-train", "1",
                       "--n-val", "0", "--n-test", "0", "--overwrite"], capsys)
    assert code == 0 and not (tmp_path / "o" / "keep.txt").exists()


def test_synth_temperate_share(tmp_path, capsys):
    import json

    code, out, _ = _run(["synth", str(tmp_path / "o"), "--n-train", "2", "--n-val", "0",
                         "--n-test", "0", "--size", "48", "--temperate-share", "0.5"], capsys)
    assert code == 0 and "TRAIN: 2 products" in out
    landscapes = sorted(json.loads((p / "dfmask_synth.json").read_text())["config"]["landscape"]
                        for p in (tmp_path / "o" / "TRAIN").glob("*.SAFE"))
    assert landscapes == ["polar", "temperate"] or landscapes == ["mixed", "polar"]


def test_cloud_model_is_applied_to_every_scene_and_recorded(tmp_path, capsys):
    import json

    code, _, _ = _run(["synth", str(tmp_path / "o"), "--n-train", "1", "--n-val", "0",
                       "--n-test", "0", "--size", "48", "--cloud-model", "two_stream"], capsys)
    assert code == 0
    (product,) = (tmp_path / "o" / "TRAIN").glob("*.SAFE")
    assert json.loads((product / "dfmask_synth.json").read_text())["config"]["cloud_model"] == \
        "two_stream"
    assert json.loads((tmp_path / "o" / "synth_splits.json").read_text())["cloud_model"] == \
        "two_stream"
    code, _, err = _run(["synth", str(tmp_path / "p"), "--cloud-model", "mie"], capsys)
    assert code == 2 and "mie" in err and not (tmp_path / "p").exists()
