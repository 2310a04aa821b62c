# fcn_rn50_nyudv2.py evaluated with the HHA modality missing: the model is
# trained on RGB + HHA, and at test time the HHA input is its mean image
# (zeros after normalisation), so only RGB carries information. Training
# with this config is identical to fcn_rn50_nyudv2.py (validation drops HHA).
#   python tools/test.py configs/fcn/fcn_rn50_nyudv2_test_drop_hha.py \
#       work_dirs/fcn_rn50_nyudv2/iter_*.pth
# The same for any config: --cfg-options model.test_cfg.drop_modalities=hha
_base_ = './fcn_rn50_nyudv2.py'
model = dict(test_cfg=dict(drop_modalities=['hha']))
