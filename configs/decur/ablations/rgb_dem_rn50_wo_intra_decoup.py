# Ablation (paper Table 5, "w/o intra&decoup."): neither, i.e. cross-modal
# Barlow Twins between the modalities' first views, inside DeCUR's model.
_base_ = '../rgb_dem_rn50.py'
model = dict(loss=dict(intra=False, decouple=False))
