# Ablation (paper Fig. 3b): rgb_dem_rn50 with 512-wide projector layers
# (default 8192); Kc stays 75 % of the embedding width.
_base_ = '../rgb_dem_rn50.py'
model = dict(projector=dict(hid_channels=512, out_channels=512))
