# SSL4EO-S12 with three modalities: Sentinel-1 GRD (VV, VH), Sentinel-2 L1C
# (13 bands) and Sentinel-2 L2A (12 bands, no B10), released folder layout
# (data/ssl4eo-s12/{s1,s2c,s2a}/<patch>/...): ssl4eo_s12.py plus a third
# modality, which gets the optical view of L1C and statistics of its own.
# Every view of every modality draws its own season, as for two.
# DeCUR published no L2A statistics, so they come from a stats file computed
# once from the data (until it exists, building the dataset is an error
# naming the file and this command):
#   python tools/misc/compute_band_stats.py configs/decur/sar_optical3_rn50.py
# (it writes the files that StatsScale names, here `s2a_stats`). Elsewhere:
#   --cfg-options train_dataloader.dataset.pipeline.1.stats.s2a=FILE
_base_ = ['./ssl4eo_s12.py']
modalities = ('s1', 's2c', 's2a')
s2a_stats = 'data/ssl4eo-s12/s2a_band_stats.json'

data_preprocessor = dict(
    modalities=dict(s2a=dict(mean=[0.] * 12, std=[255.] * 12)))

# One StatsScale on the drawn seasons of all modalities, before the views:
# the same values as scaling first in every view (as ssl4eo_s12.py does),
# one place to name the statistics, one scaling for --prescale.
stats_scale = dict(
    _base_.stats_scale, stats=dict(_base_.stats_scale.stats, s2a=s2a_stats))
s1_view = _base_.s1_view[1:]
s2c_view = _base_.s2c_view[1:]
s2a_view = _base_.s2c_view[1:]
train_pipeline = [
    dict(_base_.train_pipeline[0], modalities=modalities),
    stats_scale,
    dict(
        _base_.train_pipeline[1],
        transforms=dict(s1=s1_view, s2c=s2c_view, s2a=s2a_view)),
] + _base_.train_pipeline[2:]
train_dataloader = dict(
    dataset=dict(modalities=modalities, pipeline=train_pipeline))
