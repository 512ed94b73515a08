"""fastrmsprop.torch optimizers as the local optimizer of ZeroRedundancyOptimizer.

Two processes on this machine (gloo backend) each own a shard of the optimizer
state and step only their params; ZeroRedundancyOptimizer then broadcasts the
updated params. Both ranks compute the loss on the same full batch, so their grads
are identical without an all-reduce and the sharded run must reproduce a
single-process run bit for bit: the kernel's result does not depend on which params
share a call. torch is an optional extra, so this module is skipped without it.
"""

from __future__ import annotations

import os
import socket
import warnings

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch was built without torch.distributed", allow_module_level=True)

import torch.distributed as dist
import torch.multiprocessing as mp

with warnings.catch_warnings():
    # torch.distributed.optim scripts its functional optimizers with torch.jit at
    # import time, which torch 2.13 reports as deprecated; not our code.
    warnings.simplefilter("ignore", DeprecationWarning)
    from torch.distributed.optim import ZeroRedundancyOptimizer

import fastrmsprop.torch as ft

WORLD_SIZE = 2
STEPS = 5
# (optimizer, hyperparameters, parameters_as_bucket_view)
CONFIGS = [
    ("RMSprop", {"lr": 1e-2, "momentum": 0.9, "centered": True}, False),
    ("RMSprop", {"lr": 1e-2, "weight_decay": 0.1}, True),
    ("Adam", {"lr": 1e-2, "amsgrad": True}, False),
    ("AdamW", {"lr": 1e-2}, True),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, False),
]


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    # Layers of different sizes so that each rank owns several params.
    return torch.nn.Sequential(
        torch.nn.Linear(12, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 24),
        torch.nn.ReLU(),
        torch.nn.Linear(24, 3),
    )


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(64, 12, generator=generator)
    return inputs, torch.randn(64, 3, generator=generator)


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    inputs, targets = batch()
    for _ in range(STEPS):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()


def worker(rank: int, port: int, result_path: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    # Two processes share the machine's cores; more threads only contend.
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        results = []
        for name, kwargs, bucket_view in CONFIGS:
            model = make_model()
            optimizer = ZeroRedundancyOptimizer(
                model.parameters(),
                optimizer_class=getattr(ft, name),
                parameters_as_bucket_view=bucket_view,
                **kwargs,
            )
            train(model, optimizer)
            optimizer.consolidate_state_dict(to=0)
            if rank == 0:
                params = [p.detach().clone() for p in model.parameters()]
                results.append((params, optimizer.state_dict()["state"]))
        if rank == 0:
            torch.save(results, result_path)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_zero_redundancy_matches_single_process(tmp_path) -> None:
    result_path = str(tmp_path / "rank0.pt")
    mp.spawn(worker, args=(free_port(), result_path), nprocs=WORLD_SIZE, join=True)
    results = torch.load(result_path)
    assert len(results) == len(CONFIGS)
    for (name, kwargs, _), (params, state) in zip(CONFIGS, results):
        model = make_model()
        optimizer = getattr(ft, name)(model.parameters(), **kwargs)
        train(model, optimizer)
        for index, (sharded, single) in enumerate(zip(params, model.parameters())):
            assert torch.equal(sharded, single.detach()), f"{name} param {index}"
        expected = optimizer.state_dict()["state"]
        assert state.keys() == expected.keys()
        for index, param_state in expected.items():
            assert state[index].keys() == param_state.keys()
            for key, value in param_state.items():
                assert torch.equal(state[index][key], value), f"{name} {index} {key}"
