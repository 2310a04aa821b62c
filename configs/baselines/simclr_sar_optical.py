# Cross-modal SimCLR on SSL4EO-S12 SAR (S1) + optical (S2 L1C) (DeCUR's
# "SimCLR-cross"): configs/decur/sar_optical_rn50.py with NT-Xent between the
# modalities' first views (positive: the other modality of the same sample;
# negatives: all other samples of both modalities in the global batch).
_base_ = '../decur/sar_optical_rn50.py'
model = dict(
    type='SimCLR',
    loss=dict(_delete_=True, type='NTXentLoss', temperature=0.1))
