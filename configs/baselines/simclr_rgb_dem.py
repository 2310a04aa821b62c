# Cross-modal SimCLR on GeoNRW RGB + DEM (DeCUR's "SimCLR-cross"):
# configs/decur/rgb_dem_rn50.py with NT-Xent between the modalities' first
# views (positive: the other modality of the same sample; negatives: all other
# samples of both modalities in the global batch).
_base_ = '../decur/rgb_dem_rn50.py'
model = dict(
    type='SimCLR',
    loss=dict(_delete_=True, type='NTXentLoss', temperature=0.1))
