"""How the training command lines turn bad input and Ctrl-C into a message and an exit status.

``run_cli(main, argv)`` calls ``main(argv)``; a :class:`model.yaml_config.ConfigError`,
:class:`train.checkpoints.CheckpointError` or :class:`deploy.export_format.ExportError` (bad config,
missing/corrupt checkpoint or export, unwritable output, a run too big for memory: the message
names the key or file) prints ``error: ...`` on stderr and returns 2; success returns 0. In a
multi-process run, a process whose peer died (:class:`train.distributed.PeerLost`) prints what
happened and the resume command and returns 3.

Ctrl-C returns 130 with what is true of the run at that moment (:func:`interrupt_message`): the
checkpoint to resume from and the exact ``--resume`` command, or that no checkpoint was written
yet. :func:`exit_process` then leaves without Python's interpreter teardown, which crashes
(SIGSEGV) when Ctrl-C arrived while XLA was compiling on its own threads.

Ctrl-C itself is caught where it is safe to act on (:mod:`train.interrupts`).
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback
from typing import Callable, List, Optional

EXIT_INTERRUPTED = 130
EXIT_PEER_LOST = 3
"""Exit status of a process whose multi-process run lost another process (train/distributed.py)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; carries the run directory and whether this process created it."""

    def __init__(self, run_dir: str, fresh: bool, command: str = "python -m train"):
        super().__init__(run_dir)
        self.run_dir, self.fresh, self.command = run_dir, fresh, command


def _newest_checkpoint_step(run_dir: str) -> Optional[int]:
    """Env step of the newest complete Brax or SB3 checkpoint of ``run_dir`` (None: none)."""
    import glob
    import re

    from train.checkpoints import list_checkpoints
    from train.run_dir import CHECKPOINT_SUBDIR

    steps = [s for s, _ in list_checkpoints(run_dir)]
    for path in glob.glob(os.path.join(run_dir, CHECKPOINT_SUBDIR, "ppo_*_steps.zip")):
        m = re.match(r"^ppo_(\d+)_steps\.zip$", os.path.basename(path))
        if m:
            steps.append(int(m.group(1)))
    return max(steps) if steps else None


def interrupt_message(run_dir: Optional[str], fresh: bool = False, command: str = "python -m train") -> str:
    """What Ctrl-C leaves behind, and the command that continues it.

    A fresh run directory without a checkpoint holds nothing to resume (its config and the
    first lines of its log): it is removed, and the message says so.
    """
    if run_dir is None:
        return "interrupted before training started; nothing was written"
    step = _newest_checkpoint_step(run_dir) if os.path.isdir(run_dir) else None
    if step is not None:
        return f"interrupted; the newest checkpoint is step {step:,d}: resume with\n  {command} --resume {run_dir}"
    if fresh and os.path.isdir(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)
        return (
            f"interrupted before the first checkpoint: nothing to resume (removed {run_dir}, which held only "
            f"the config and the start of the log); run the same command again to start over"
        )
    return f"interrupted before the first checkpoint of {run_dir}: nothing to resume; start the run again"


def run_cli(main: Callable[[Optional[List[str]]], object], argv: Optional[List[str]] = None) -> int:
    from deploy.export_format import ExportError
    from model.yaml_config import ConfigError
    from train.checkpoints import CheckpointError
    from train.distributed import PeerLost, in_multi_process_run, process_label

    try:
        main(argv)
    except (ConfigError, CheckpointError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except PeerLost as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PEER_LOST
    except Exception:
        if not in_multi_process_run():
            raise
        traceback.print_exc()  # then exit_process leaves at once, so the other processes stop too
        print(f"error: {process_label()} failed (above); the other processes of the run stop", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(interrupt_message(e.run_dir, e.fresh, e.command), file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(interrupt_message(None), file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def exit_process(status: int) -> None:
    """``sys.exit(status)``, except after Ctrl-C or any failure of a multi-process run: flush and
    ``os._exit`` (no interpreter teardown, which can crash while XLA compiles on other threads, and
    no ``jax.distributed`` shutdown, whose barrier would wait for the other processes while they
    wait for this one in a collective; leaving at once makes their collective fail, and they stop
    too). Every file of the run is closed by then."""
    from train.distributed import in_multi_process_run

    if status in (EXIT_INTERRUPTED, EXIT_PEER_LOST) or (status != 0 and in_multi_process_run()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
