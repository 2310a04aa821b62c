# Barlow Twins' protocol, which the paper follows for ResNet-50: LARS with
# weights at lr 0.2 and biases/BN at 0.0048 (= 0.2 * 0.024) for a total batch
# of 256, 10 warm-up epochs, cosine decay. (The official DeCUR `main` branch
# falls into AdamW through a buggy condition; its released RN50 weights were
# trained with LARS.) mmdecur's LARS is mmpretrain's update without its
# per-parameter host syncs, multi-tensor on GPUs (mmdecur/engine/optimizers.py;
# same state dict, so either resumes the other's checkpoints).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FusedOptimWrapperConstructor',
    optimizer=dict(type='LARS', lr=0.2, momentum=0.9, weight_decay=1e-6),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lr_mult=0.024, lars_exclude=True),
            'bias': dict(decay_mult=0, lr_mult=0.024, lars_exclude=True),
            'downsample.1': dict(
                decay_mult=0, lr_mult=0.024, lars_exclude=True),
        }))

max_epochs = 100
warmup_epochs = 10
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=1e-3,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256)
