"""Child process for the SIGKILL resume test: train, optionally hang at a step to be killed."""

from __future__ import annotations

import json
import sys
import time

import torch
from safetensors.torch import save_file
from torch import nn

from deepdojo.train import Callback, Trainer, warmup_cosine


class HangAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, trainer, batch_idx, logs):
        if trainer.global_step == self.step:
            print(f"READY epoch={trainer.epoch} batch={batch_idx}", flush=True)
            time.sleep(600)  # the parent kills us with SIGKILL here


def main(ckpt_dir: str, out: str, hang_at: int, resume: bool) -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(60, 6, generator=g), torch.randint(0, 3, (60,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    tr = Trainer(model, nn.CrossEntropyLoss(), "adam", lr=1e-2, scheduler=warmup_cosine(5),
                 callbacks=[HangAt(hang_at)], device="cpu", progress="off", seed=7)
    hist = tr.fit((X, y), (X[:20], y[:20]), epochs=3, batch_size=8, checkpoint_dir=ckpt_dir,
                  resume=resume, save_every_n_steps=3, keep_last=2)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    with open(out + ".json", "w") as f:
        json.dump({"train_loss": hist["train_loss"], "val_loss": hist["val_loss"],
                   "events": [e["kind"] for e in hist.events]}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "resume")
