# Copyright (c) mmdecur contributors. All rights reserved.
"""mmdecur.compat: mmcv-lite ops stand-in, safe checkpoint loading."""
import io
import os
import pickle

import pytest
import torch
import torch.nn.functional as F

from mmdecur import compat

lite_only = pytest.mark.skipif(
    compat.mmcv_ops_available(), reason='full mmcv: the stand-in is unused')


@lite_only
def test_mmseg_models_import_under_mmcv_lite():
    import mmcv.ops
    import mmseg.models  # noqa: F401
    assert getattr(mmcv.ops, 'MMDECUR_LITE_STUB', False)


@lite_only
def test_pure_torch_ops_compute_what_full_mmcv_computes():
    from mmcv.ops import point_sample
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    points = torch.rand(2, 7, 2)
    want = F.grid_sample(
        x, (2 * points - 1).unsqueeze(2), align_corners=False).squeeze(3)
    torch.testing.assert_close(point_sample(x, points), want)


@lite_only
def test_compiled_ops_fail_loudly_never_silently():
    from mmcv.ops import sigmoid_focal_loss
    with pytest.raises(RuntimeError, match='compiled op.*mmcv-lite'):
        sigmoid_focal_loss(torch.zeros(1), torch.zeros(1))
    with pytest.raises(ModuleNotFoundError, match='mmcv-lite'):
        from mmcv.ops import DeformConv2d  # noqa: F401
    # mmseg's CUDA focal-loss path calls the compiled op.
    from mmseg.models.losses.focal_loss import sigmoid_focal_loss
    with pytest.raises(RuntimeError, match='sigmoid_focal_loss'):
        sigmoid_focal_loss(
            torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
            torch.zeros(2, 3))


def test_mmengine_checkpoints_load_with_weights_only(tmp_path):
    import numpy as np
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('np_scalar', np.float64(2.0))
    ckpt = dict(
        state_dict=dict(w=torch.ones(2)),
        message_hub=hub.state_dict(),
        meta=dict(seed=0, rng=np.random.get_state()))
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 1.5


class _Evil:

    def __reduce__(self):
        return (os.system, ('echo pwned', ))


def test_arbitrary_pickles_are_still_refused():
    buf = io.BytesIO()
    torch.save({'x': _Evil()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf, weights_only=True)


def test_patches_are_idempotent():
    before = compat.SAFE_CHECKPOINT_GLOBALS
    compat.apply_patches()
    assert compat.SAFE_CHECKPOINT_GLOBALS is before
