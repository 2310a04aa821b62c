# Copyright (c) mmdecur contributors. All rights reserved.
from typing import List


class ShapeCheckedLoadMixin:
    """Make loading a checkpoint whose tensors do not fit an error.

    MMEngine loads ``load_from``/``init_cfg`` checkpoints non-strictly and
    only *warns* about shape mismatches, so a checkpoint from another
    scenario (other band counts, widths or class counts) would silently
    leave layers untrained. Mixed into the top-level model, this raises a
    ``ValueError`` naming every key whose shape differs. Missing and
    unexpected keys keep MMEngine's handling (e.g. a new decode head, or
    the projectors of a pretraining checkpoint).
    """

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        own = self.state_dict()
        mismatched: List[str] = [
            f'{key}: checkpoint {tuple(state_dict[prefix + key].shape)} vs '
            f'model {tuple(value.shape)}' for key, value in own.items()
            if prefix + key in state_dict
            and tuple(state_dict[prefix + key].shape) != tuple(value.shape)
        ]
        if mismatched:
            raise ValueError(
                f'{len(mismatched)} checkpoint tensor(s) do not fit '
                f'{type(self).__name__} (converted for another backbone, '
                'band count or number of classes?):\n  ' +
                '\n  '.join(mismatched))
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
