"""Child process for the two-optimizer SIGKILL resume test (a task with a critic that pulls
extra batches, dropout, a per-batch schedule on one optimizer and a per-epoch one on the other)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from deepdojo.train import Callback, Trainer, schedules

sys.path.insert(0, str(Path(__file__).parent))
from _toy_tasks import Critic, regression  # noqa: E402


class ScheduledCritic(Critic):
    def configure_schedulers(self):
        return {"a": schedules.warmup_cosine(4), "b": schedules.step_lr(1, gamma=0.5)}


class HangAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, trainer, batch_idx, logs):
        if trainer.global_step == self.step:
            print(f"READY epoch={trainer.epoch} batch={trainer.loop.batch}", flush=True)
            time.sleep(600)  # the parent kills us with SIGKILL here


def main(ckpt_dir: str, out: str, hang_at: int, resume: bool) -> None:
    torch.set_num_threads(1)
    X, y = regression(n=72)
    task = ScheduledCritic(n_critic=2, dropout=0.3)
    tr = Trainer(task, callbacks=[HangAt(hang_at)], device="cpu", progress="off", seed=5)
    hist = tr.fit((X, y), (X[:24], y[:24]), epochs=3, batch_size=6, checkpoint_dir=ckpt_dir,
                  resume=resume, save_every_n_steps=2, keep_last=2)
    save_file({k: v.contiguous() for k, v in task.state_dict().items()}, out)
    with open(out + ".json", "w") as f:
        json.dump({"records": [{k: v for k, v in r.items() if k != "time_s"} for r in hist],
                   "events": [e["kind"] for e in hist.events],
                   "steps": tr.loop.optimizer_steps}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "resume")
