# Ablation (paper Fig. 3b, "w/o proj."): rgb_dem_rn50 without a projector:
# the loss acts on the 2048-d pooled backbone features (75 % common).
_base_ = '../rgb_dem_rn50.py'
model = dict(projector=dict(num_layers=0))
