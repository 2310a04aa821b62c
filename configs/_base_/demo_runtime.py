# The default runtime with the demos' short logging and checkpoint intervals.
_base_ = './default_runtime.py'
default_hooks = dict(
    logger=dict(interval=8), checkpoint=dict(interval=5, max_keep_ckpts=2))
