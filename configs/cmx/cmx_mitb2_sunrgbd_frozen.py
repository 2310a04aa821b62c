# cmx_mitb2_sunrgbd.py with frozen encoder streams (weights and norm statistics):
# the rectify/fusion modules and the decoder are trained.
_base_ = './cmx_mitb2_sunrgbd.py'
model = dict(backbone=dict(frozen=True))
