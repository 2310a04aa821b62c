default_scope = 'mmdecur'

default_hooks = dict(
    # RuntimeInfoHook's log values, fetched from the GPU once per logging
    # interval instead of with one .item() per value per step (same numbers).
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Writes are atomic (see mmdecur/compat.py): a killed job never leaves a
    # truncated checkpoint for --resume to pick up.
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Where the sampler makes per-rank batches equal, the losses' gathers
    # skip exchanging the sizes (one collective and one sync per step).
    equal_batch_sizes=dict(type='EqualBatchSizeHook'),
)
# Generator states go into checkpoints so --resume continues exactly. The
# split hook only acts for losses with an adaptive common/unique split; the
# modality check stops a run whose model and data disagree on modalities.
custom_hooks = [
    dict(type='ModalityCheckHook'),
    dict(type='RandomStateHook'),
    dict(type='CommonSplitHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(window_size=10)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'

load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
