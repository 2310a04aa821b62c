# sar_optical_rn50.py with residual deformable attention after ResNet stages 3
# and 4 of both encoders (paper settings).
_base_ = './sar_optical_rn50.py'
model = dict(backbone=dict(rda=True))
