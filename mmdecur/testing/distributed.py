# Copyright (c) mmdecur contributors. All rights reserved.
import os
import os.path as osp
import random
import socket
import tempfile
import time
import traceback
from typing import Any, Callable, List, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def find_free_port() -> int:
    """A free TCP port below the ephemeral range.

    An OS-assigned (ephemeral) port could be handed to another process's
    outgoing connection (gloo opens many) before our master binds it, so
    parallel tests draw from 20000-29999 instead.
    """
    rng = random.Random(os.getpid() ^ int(time.time() * 1e6))
    for _ in range(100):
        port = rng.randrange(20000, 30000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    raise RuntimeError('no free port found in 20000-29999')


def _worker(rank: int, world_size: int, port: int, fn: Callable,
            args: Sequence, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo', rank=rank, world_size=world_size, init_method='env://')
    try:
        result = fn(rank, world_size, *args)
        torch.save(result, osp.join(out_dir, f'rank{rank}.pt'))
    except BaseException:
        with open(osp.join(out_dir, f'rank{rank}.err'), 'w') as f:
            f.write(traceback.format_exc())
        raise
    finally:
        dist.destroy_process_group()


def run_distributed(fn: Callable, world_size: int, *args: Any) -> List[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` CPU processes.

    Each process joins a gloo group on localhost. ``fn`` must be importable
    (module level) and return something ``torch.save`` can store.

    Returns:
        list: The return value of every rank, in rank order.
    """
    with tempfile.TemporaryDirectory() as out_dir:
        try:
            mp.start_processes(
                _worker,
                args=(world_size, find_free_port(), fn, args, out_dir),
                nprocs=world_size,
                start_method='spawn')
        except Exception as e:
            errors = [
                open(osp.join(out_dir, f)).read()
                for f in sorted(os.listdir(out_dir)) if f.endswith('.err')
            ]
            raise RuntimeError('distributed worker failed:\n' +
                               '\n'.join(errors)) from e
        return [
            torch.load(osp.join(out_dir, f'rank{r}.pt'), weights_only=False)
            for r in range(world_size)
        ]
