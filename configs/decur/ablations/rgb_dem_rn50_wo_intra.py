# Ablation (paper Table 5, "w/o intra"): rgb_dem_rn50 without the intra-modal
# terms (Eq. 4-5): only the decoupled cross-modal loss.
_base_ = '../rgb_dem_rn50.py'
model = dict(loss=dict(intra=False))
