# CLIP-style pretraining on GeoNRW RGB + DEM (DeCUR's "CLIP" row):
# configs/decur/rgb_dem_rn50.py with the symmetric InfoNCE loss between the
# modalities' first views over the global batch, learnable temperature.
_base_ = '../decur/rgb_dem_rn50.py'
model = dict(
    type='CLIP',
    loss=dict(
        _delete_=True,
        type='SymmetricInfoNCELoss',
        init_temperature=0.07,
        learnable=True,
        max_logit_scale=100.))
# The log-scale is optimised like the biases: no weight decay (as in CLIP),
# no LARS trust ratio (meaningless for a scalar), the biases' learning rate.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(
            logit_scale=_base_.optim_wrapper.paramwise_cfg.custom_keys.bias)))
