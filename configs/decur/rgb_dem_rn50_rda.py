# rgb_dem_rn50.py with residual deformable attention after ResNet stages 3
# and 4 of both encoders (paper settings).
_base_ = './rgb_dem_rn50.py'
model = dict(backbone=dict(rda=True))
