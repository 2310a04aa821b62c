# AdamW as in the official DeCUR MiT/ViT/RDA runs (lr 1e-4 for both weights
# and biases; the official MiT script's 0.0048 bias lr is a default it forgot
# to set), cosine decay without warm-up, no decay on norms and biases.
# fused=True: one kernel per step (CUDA; CPU from PyTorch 2.4), else
# foreach (mmdecur/engine/optimizers.py); same updates to float rounding.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FusedOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01, fused=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))

max_epochs = 100
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=128)
