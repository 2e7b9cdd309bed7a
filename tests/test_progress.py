"""Progress bars: off when asked, terminal-only otherwise (clean notebooks and logs)."""

import io

from tqdm.auto import tqdm

from dfmask_lib.progress import disable_bar


def test_disable_bar_values():
    assert disable_bar(False) is True
    assert disable_bar(True) is None


def test_no_bar_frames_written_to_a_non_terminal():
    out = io.StringIO()
    for _ in tqdm(range(5), file=out, disable=disable_bar(True)):
        pass
    assert out.getvalue() == ""
