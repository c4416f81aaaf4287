"""Settings that DeepSpeed and accelerate otherwise guess, with a warning, in every process on a CPU machine."""

from __future__ import annotations

import os


def prefer_cpu_deepspeed() -> bool:
    """``DS_ACCELERATOR=cpu`` (unless set) when torch sees no CUDA device: DeepSpeed otherwise detects the CPU
    itself and logs a warning in every process that imports it, which transformers does whenever it is installed.
    Call before anything imports DeepSpeed. Returns whether torch sees CUDA."""
    import torch

    if torch.cuda.is_available():
        return True
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    return False


def pin_cpu_threads() -> int:
    """Torch threads per process on a CPU run, as accelerate picks them for distributed CPU training (physical
    cores / processes on this node), set here with ``OMP_NUM_THREADS`` so that accelerate does not warn that it
    chose them; a set ``OMP_NUM_THREADS`` is kept. Returns the thread count."""
    import torch

    if int(os.environ.get("OMP_NUM_THREADS") or 0) > 0:
        return torch.get_num_threads()
    import psutil
    from accelerate.utils import get_cpu_distributed_information

    threads = max(1, int(psutil.cpu_count(logical=False) / get_cpu_distributed_information().local_world_size))
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    return threads
