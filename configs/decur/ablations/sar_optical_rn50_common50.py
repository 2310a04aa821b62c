# Ablation (paper Fig. 3a / 4): sar_optical_rn50 with 50.0% common dimensions
# (SSL4EO-S12 SAR-optical; default 87.5%). Any other ratio: --cfg-options
# model.loss.common_ratio=R, or tools/analysis_tools/sweep.py for a grid.
_base_ = '../sar_optical_rn50.py'
model = dict(loss=dict(common_ratio=0.5))
