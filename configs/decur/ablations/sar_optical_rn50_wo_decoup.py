# Ablation (paper Table 5, "w/o decoup."): sar_optical_rn50 with all dimensions
# common (no unique block, no L_uni), intra-modal terms kept.
_base_ = '../sar_optical_rn50.py'
model = dict(loss=dict(decouple=False))
