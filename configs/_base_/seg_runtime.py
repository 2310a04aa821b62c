# default_runtime.py for segmentation: keep the best checkpoint by mIoU too.
_base_ = './default_runtime.py'
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))
