# Ablation (paper Fig. 3a / 4): rgb_dem_rn50 with 50.0% common dimensions
# (GeoNRW RGB-DEM; default 75.0%). Any other ratio: --cfg-options
# model.loss.common_ratio=R, or tools/analysis_tools/sweep.py for a grid.
_base_ = '../rgb_dem_rn50.py'
model = dict(loss=dict(common_ratio=0.5))
