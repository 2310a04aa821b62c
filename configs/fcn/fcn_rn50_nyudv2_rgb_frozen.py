# fcn_rn50_nyudv2_rgb.py with frozen encoders (weights and BN statistics):
# only the head is trained.
_base_ = './fcn_rn50_nyudv2_rgb.py'
model = dict(backbone=dict(frozen=True))
