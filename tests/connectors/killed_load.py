"""A load that SIGKILLs its own process at a chosen step of the lake's commit protocol (for the kill-and-rerun
test): ``killed_load.py <step> <occurrence> <platform.job> ...``. Steps are those ``Load`` reports:
``staged:raw:1``, ``manifest-written``, ``committed``, ``moved``; the process dies at the n-th time it reaches
the step, counted over the whole run, with no chance to clean up."""

from __future__ import annotations

import os
import signal
import sys

from connectors.ingest import JOBS, run_job
from gridlake import lake as lake_module


def main(step: str, occurrence: int, jobs: list[str]) -> None:
    reached = 0
    original = lake_module.Load.__init__

    def init(self, *args, on_step=None, **kwargs) -> None:
        def hook(name: str) -> None:
            nonlocal reached
            if name == step:
                reached += 1
                if reached == occurrence:
                    os.kill(os.getpid(), signal.SIGKILL)
            if on_step is not None:
                on_step(name)

        original(self, *args, on_step=hook, **kwargs)

    lake_module.Load.__init__ = init
    for name in jobs:
        platform, _, job = name.partition(".")
        run_job(JOBS[(platform, job)])
    print(f"never killed: step {step} reached {reached} times", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
