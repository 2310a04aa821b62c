# Copyright (c) mmdecur contributors. All rights reserved.
import torch
from mmengine.model import MMDistributedDataParallel

from mmdecur.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAgnosticDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps CPU modules.

    MMEngine's runner always passes ``device_ids=[LOCAL_RANK]``, which
    PyTorch rejects for a CPU module; multi-process CPU (gloo) training needs
    ``device_ids=None``. ``tools/train.py`` selects this wrapper when no GPU
    is present; on GPUs it behaves exactly like its parent.
    """

    def __init__(self, module: torch.nn.Module, device_ids=None, **kwargs):
        params = list(module.parameters())
        if params and params[0].device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)
