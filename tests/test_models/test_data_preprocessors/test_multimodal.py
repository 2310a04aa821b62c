# Copyright (c) mmdecur contributors. All rights reserved.
import pytest
import torch

from mmdecur.models.data_preprocessors import MultiModalDataPreprocessor


def make(**kwargs):
    cfg = dict(
        rgb=dict(mean=[10., 20., 30.], std=[1., 2., 4.], bgr_to_rgb=True),
        s1=dict(mean=[-12.5, -20.], std=[5., 6.]))
    cfg.update(kwargs)
    return MultiModalDataPreprocessor(cfg)


def test_each_modality_uses_its_own_statistics_and_order():
    pre = make()
    bgr = torch.tensor([30, 20, 10], dtype=torch.uint8).view(1, 3, 1, 1)
    bgr = bgr.expand(2, 3, 2, 2)
    sar = torch.tensor([-12.5 + 5, -20. - 12]).view(1, 2, 1,
                                                    1).expand(2, 2, 2, 2)
    out = pre(dict(inputs=dict(rgb=[bgr, bgr], s1=[sar, sar])))
    rgb, s1 = out['inputs']['rgb'], out['inputs']['s1']
    assert len(rgb) == 2 and rgb[0].dtype == torch.float32
    # BGR (30, 20, 10) -> RGB (10, 20, 30) -> zero after normalisation.
    assert torch.equal(rgb[1], torch.zeros(2, 3, 2, 2))
    torch.testing.assert_close(s1[0][0, :, 0, 0], torch.tensor([1., -2.]))


def test_lists_of_samples_are_stacked_and_single_views_kept():
    pre = make()
    samples = [torch.full((2, 3, 3), -12.5), torch.full((2, 3, 3), -7.5)]
    out = pre(dict(inputs=dict(s1=samples)))
    assert out['inputs']['s1'].shape == (2, 2, 3, 3)
    torch.testing.assert_close(out['inputs']['s1'][1, 0], torch.full((3, 3),
                                                                     1.))


@pytest.mark.parametrize('inputs,match', [
    (dict(s1=[torch.zeros(1, 3, 2, 2)]), "'s1' has 3 bands"),
    (dict(hha=[torch.zeros(1, 3, 2, 2)]), 'does not know'),
    (dict(
        s1=[[torch.zeros(2, 2, 2), torch.zeros(2, 3, 3)]]), 'differ'),
])
def test_bad_batches_name_the_modality(inputs, match):
    with pytest.raises((ValueError, KeyError), match=match):
        make()(dict(inputs=inputs))


def test_bgr_to_rgb_needs_three_bands():
    with pytest.raises(ValueError, match='bgr_to_rgb needs 3 bands'):
        make(s1=dict(mean=[0., 0.], std=[1., 1.], bgr_to_rgb=True))
