"""EpisodicTask under DDP: 2 CPU processes, each on its own share of one episode stream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent))
from _ddp_episodic_script import make_problem  # noqa: E402

from deepdojo.data import EpisodeDataset, EpisodeSampler  # noqa: E402
from deepdojo.train.tasks import EpisodicTask  # noqa: E402

SCRIPT = Path(__file__).with_name("_ddp_episodic_script.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_ranks_match_one_process_averaging_their_two_episodes(tmp_path):
    out, port = tmp_path / "w.safetensors", str(_free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, str(SCRIPT), str(out)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    # one process: step s averages the losses of episodes 2s and 2s + 1 (rank 0's and rank
    # 1's), which is what averaging the two ranks' gradients does
    model, x, labels = make_problem()
    task = EpisodicTask(model, 3, 2)
    sampler = EpisodeSampler(labels, 3, 2, 2, episodes=8, seed=3, rank=0, world_size=1)
    episodes = EpisodeDataset(x)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for step in range(4):
            losses = [F.cross_entropy(*task.logits(episodes[sampler.episode(2 * step + r)]))
                      for r in range(2)]  # fmt: skip
            (sum(losses) / 2).backward()
            optimizer.step()
            optimizer.zero_grad()
    for proc in procs:
        output, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, output
    ddp = load_file(out)
    for key, value in task.state_dict().items():
        torch.testing.assert_close(ddp[key], value, rtol=0, atol=1e-5)
