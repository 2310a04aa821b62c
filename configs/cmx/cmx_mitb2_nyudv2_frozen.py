# cmx_mitb2_nyudv2.py with frozen encoder streams (weights and norm statistics):
# the rectify/fusion modules and the decoder are trained.
_base_ = './cmx_mitb2_nyudv2.py'
model = dict(backbone=dict(frozen=True))
