# cmx_mitb2_nyudv2.py evaluated with the X (HHA) stream's input missing: at
# test time it is the HHA mean image (zeros after normalisation) while the
# RGB stream sees the real images. Training is that of cmx_mitb2_nyudv2.py.
#   python tools/test.py configs/cmx/cmx_mitb2_nyudv2_test_drop_hha.py \
#       work_dirs/cmx_mitb2_nyudv2/epoch_*.pth
# The same for any config: --cfg-options model.test_cfg.drop_modalities=hha
_base_ = './cmx_mitb2_nyudv2.py'
model = dict(test_cfg=dict(drop_modalities=['hha']))
