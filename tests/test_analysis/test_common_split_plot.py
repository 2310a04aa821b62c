# Copyright (c) mmdecur contributors. All rights reserved.
import json
import subprocess
import sys

import numpy as np
import pytest

from mmdecur.analysis import (load_split_history, plot_common_split,
                              split_history_arrays)
from mmdecur.engine.hooks.common_split_hook import hex_to_mask, mask_to_hex


def history():
    masks = [[1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 0, 0]]
    records = [
        dict(epoch=0, num_common=2, common_mask_hex=mask_to_hex(masks[0]))
    ]
    for epoch, (mask, fraction) in enumerate(
            zip(masks[1:], (0.6, 0.66)), start=1):
        records.append(
            dict(
                epoch=epoch,
                num_common=sum(mask),
                common_mask_hex=mask_to_hex(mask),
                common_fraction=fraction))
    return dict(dim=6, epochs=records), masks


def test_mask_hex_round_trip():
    mask = [True, False, False, True, True] + [False] * 60 + [True]
    assert hex_to_mask(mask_to_hex(mask), len(mask)) == mask


def test_history_arrays_and_png(tmp_path):
    hist, masks = history()
    arrays = split_history_arrays(hist)
    np.testing.assert_array_equal(arrays['masks'], np.array(masks, bool))
    np.testing.assert_array_equal(arrays['num_common'], [2, 3, 4])
    np.testing.assert_array_equal(arrays['measured_fraction'], [0.6, 0.66])
    out = tmp_path / 'split.png'
    plot_common_split({'run': hist}, str(out), truth=[0.5])
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_tool_reads_work_dirs(tmp_path):
    hist, _ = history()
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'common_split.json').write_text(json.dumps(hist))
    out = tmp_path / 'plot.png'
    result = subprocess.run([
        sys.executable, 'tools/analysis_tools/plot_common_split.py',
        str(run), '--truth', '0.5', '--out',
        str(out)
    ],
                            capture_output=True,
                            text=True,
                            check=True)
    assert 'run: Kc 2 -> 4 of 6 (epoch 0 -> 2)' in result.stdout
    assert out.stat().st_size > 0
    with pytest.raises(ValueError, match='not a common-split history'):
        bad = tmp_path / 'bad.json'
        bad.write_text(json.dumps(dict(dim=6, epochs=[])))
        load_split_history(str(bad))
