# Copyright (c) mmdecur contributors. All rights reserved.
import os

import torch

from mmdecur.utils import register_all_modules

register_all_modules()

# Under pytest-xdist every worker would start one OpenMP thread per core; on
# small machines the oversubscription slows the suite down several-fold.
_workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
if _workers > 1:
    _threads = max(1, (os.cpu_count() or 1) // _workers)
    torch.set_num_threads(_threads)
    os.environ['OMP_NUM_THREADS'] = str(_threads)  # for subprocesses
