# late_fusion_rn50_linear.py with residual deformable attention after stages 3
# and 4 of both encoders (paper settings), from the DeCUR RDA checkpoint
# (configs/decur/sar_optical_rn50_rda.py). Official lr 0.1 (MM-RDA).
_base_ = './late_fusion_rn50_linear.py'
model = dict(
    backbone=dict(rda=True),
    init_cfg=dict(checkpoint='work_dirs/sar_optical_rn50_rda/epoch_100.pth'))
