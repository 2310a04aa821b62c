# Ablation (paper Fig. 3b): rgb_dem_rn50 with 2048-wide projector layers
# (default 8192); Kc stays 75 % of the embedding width.
_base_ = '../rgb_dem_rn50.py'
model = dict(projector=dict(hid_channels=2048, out_channels=2048))
