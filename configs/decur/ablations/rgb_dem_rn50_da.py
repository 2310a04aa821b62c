# Ablation (paper Table 4, "with DA"): deformable attention after ResNet
# stages 3 and 4 WITHOUT the residual connection (the paper's RDA adds it:
# ../rgb_dem_rn50_rda.py).
_base_ = '../rgb_dem_rn50_rda.py'
model = dict(backbone=dict(rda_residual=False))
