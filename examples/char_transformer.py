"""Train a small character-level transformer with torch.optim and with fastrmsprop.

The text is Python's own standard library (its .py sources), present wherever Python
is, so nothing is downloaded. Each optimizer trains the same model from the same
initial weights on the same batches; the loss curves print side by side with the
time of each optimizer step and its share of the whole training step. A second
table times the optimizer step alone on the model's params and real grads (median
of repeats, every variant in the same run), including torch's foreach and fused
implementations.

    python examples/char_transformer.py                      # RMSprop, ~2 minutes
    python examples/char_transformer.py --optimizer adam --steps 200
    python examples/char_transformer.py --optimizer all --bench-repeats 50

Needs torch (the `torch` extra).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import sysconfig
import time
from pathlib import Path
from typing import Callable

import torch

import fastrmsprop
import fastrmsprop.torch as ft

# name -> (family, factory(params, lr)); the families share a learning rate.
VARIANTS: dict[str, tuple[str, Callable]] = {
    "torch RMSprop": (
        "rmsprop",
        lambda p, lr: torch.optim.RMSprop(p, lr=lr, foreach=False),
    ),
    "torch RMSprop foreach": (
        "rmsprop",
        lambda p, lr: torch.optim.RMSprop(p, lr=lr, foreach=True),
    ),
    "fastrmsprop RMSprop": ("rmsprop", lambda p, lr: ft.RMSprop(p, lr=lr)),
    "torch Adam": ("adam", lambda p, lr: torch.optim.Adam(p, lr=lr, foreach=False)),
    "torch Adam foreach": (
        "adam",
        lambda p, lr: torch.optim.Adam(p, lr=lr, foreach=True),
    ),
    "torch Adam fused": ("adam", lambda p, lr: torch.optim.Adam(p, lr=lr, fused=True)),
    "fastrmsprop Adam": ("adam", lambda p, lr: ft.Adam(p, lr=lr)),
    "torch Adagrad": (
        "adagrad",
        lambda p, lr: torch.optim.Adagrad(p, lr=lr, foreach=False),
    ),
    "torch Adagrad foreach": (
        "adagrad",
        lambda p, lr: torch.optim.Adagrad(p, lr=lr, foreach=True),
    ),
    "torch Adagrad fused": (
        "adagrad",
        lambda p, lr: torch.optim.Adagrad(p, lr=lr, fused=True),
    ),
    "fastrmsprop Adagrad": ("adagrad", lambda p, lr: ft.Adagrad(p, lr=lr)),
}

LEARNING_RATES = {"rmsprop": 1e-3, "adam": 1e-3, "adagrad": 1e-2}

# The two runs whose loss curves are compared, per family.
TRAINED = {
    "rmsprop": ["torch RMSprop", "fastrmsprop RMSprop"],
    "adam": ["torch Adam fused", "fastrmsprop Adam"],
    "adagrad": ["torch Adagrad fused", "fastrmsprop Adagrad"],
}


def load_text(max_chars: int) -> str:
    """The standard library's .py files, in sorted order, up to max_chars."""
    root = Path(sysconfig.get_paths()["stdlib"])
    pieces, total = [], 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        pieces.append(source)
        total += len(source)
        if total >= max_chars:
            break
    return "".join(pieces)[:max_chars]


class CharTransformer(torch.nn.Module):
    """A decoder-only transformer: embeddings, pre-norm causal blocks, a head."""

    def __init__(
        self, vocab: int, width: int, layers: int, heads: int, context: int
    ) -> None:
        super().__init__()
        self.token = torch.nn.Embedding(vocab, width)
        self.position = torch.nn.Embedding(context, width)
        block = torch.nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = torch.nn.TransformerEncoder(
            block, layers, enable_nested_tensor=False
        )
        self.norm = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, vocab)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(context)
        self.register_buffer("mask", mask)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device)
        hidden = self.token(tokens) + self.position(positions)
        mask = self.mask[:length, :length]
        hidden = self.blocks(hidden, mask=mask, is_causal=True)
        return self.head(self.norm(hidden))


def batches(
    data: torch.Tensor, steps: int, batch: int, context: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The same (input, target) batches for every run."""
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(data) - context - 1, (steps, batch), generator=generator)
    result = []
    for row in starts:
        windows = torch.stack([data[s : s + context + 1] for s in row.tolist()])
        result.append((windows[:, :-1], windows[:, 1:]))
    return result


def build_model(args: argparse.Namespace, vocab: int) -> CharTransformer:
    torch.manual_seed(args.seed)
    return CharTransformer(vocab, args.width, args.layers, args.heads, args.context)


def train(
    variant: str, args: argparse.Namespace, vocab: int, data: list
) -> tuple[list[float], list[float], list[float]]:
    """Losses, optimizer-step seconds and training-step seconds of one run."""
    family, factory = VARIANTS[variant]
    model = build_model(args, vocab)
    optimizer = factory(model.parameters(), LEARNING_RATES[family])
    losses, step_times, total_times = [], [], []
    for inputs, targets in data:
        start = time.perf_counter()
        optimizer.zero_grad()
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, vocab), targets.reshape(-1)
        )
        loss.backward()
        before_step = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        losses.append(loss.item())
        step_times.append(end - before_step)
        total_times.append(end - start)
    return losses, step_times, total_times


def bench_steps(
    variants: list[str], args: argparse.Namespace, vocab: int, data: list
) -> dict[str, list[float]]:
    """Seconds per optimizer step alone, on the model's params and real grads.

    Every variant steps its own copy of the same model with the same grads; the
    repeats are interleaved so that a slow moment of the machine hits all alike.
    """
    runs = {}
    for variant in variants:
        family, factory = VARIANTS[variant]
        model = build_model(args, vocab)
        inputs, targets = data[0]
        loss = torch.nn.functional.cross_entropy(
            model(inputs).reshape(-1, vocab), targets.reshape(-1)
        )
        loss.backward()
        optimizer = factory(model.parameters(), LEARNING_RATES[family])
        optimizer.step()  # creates the state outside the timed repeats
        runs[variant] = (optimizer, [])
    for _ in range(args.bench_repeats):
        for optimizer, seconds in runs.values():
            start = time.perf_counter()
            optimizer.step()
            seconds.append(time.perf_counter() - start)
    return {variant: seconds for variant, (_, seconds) in runs.items()}


def print_curves(names: list[str], runs: dict, every: int) -> None:
    width = max(22, *(len(n) + 2 for n in names))
    print("step" + "".join(f"{n:>{width}}" for n in names))
    steps = len(next(iter(runs.values()))[0])
    for step in range(0, steps, every):
        row = "".join(f"{runs[n][0][step]:>{width}.4f}" for n in names)
        print(f"{step:>4}{row}")
    last = "".join(f"{runs[n][0][-1]:>{width}.4f}" for n in names)
    print(f"{steps - 1:>4}{last}")
    print()
    print(
        f"{'run':<24}{'optimizer step ms':>20}{'training step ms':>18}"
        f"{'step share':>12}"
    )
    for name in names:
        _, step_times, total_times = runs[name]
        # The first steps create state and warm caches; leave them out.
        step_ms = 1e3 * statistics.median(step_times[2:] or step_times)
        total_ms = 1e3 * statistics.median(total_times[2:] or total_times)
        print(f"{name:<24}{step_ms:>20.2f}{total_ms:>18.1f}{step_ms / total_ms:>12.1%}")


def print_bench(times: dict[str, list[float]], params: int) -> None:
    print(
        f"{'optimizer step alone':<24}{'median ms':>12}{'min ms':>10}"
        f"{'ns/param':>10}{'vs ours':>10}"
    )
    ours = {
        family: statistics.median(times[n])
        for n, (family, _) in VARIANTS.items()
        if n.startswith("fastrmsprop") and n in times
    }
    for name, seconds in times.items():
        median = statistics.median(seconds)
        family = VARIANTS[name][0]
        ratio = median / ours[family] if family in ours else math.nan
        print(
            f"{name:<24}{1e3 * median:>12.3f}{1e3 * min(seconds):>10.3f}"
            f"{1e9 * median / params:>10.2f}{ratio:>9.2f}x"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--optimizer",
        default="rmsprop",
        choices=["rmsprop", "adam", "adagrad", "all"],
        help="family whose torch and fastrmsprop runs are trained "
        "and timed (default: rmsprop)",
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--print-every", type=int, default=20)
    parser.add_argument(
        "--bench-repeats",
        type=int,
        default=30,
        help="optimizer steps timed alone per variant (0 skips the table)",
    )
    parser.add_argument("--max-chars", type=int, default=2_000_000)
    args = parser.parse_args(argv)

    text = load_text(args.max_chars)
    alphabet = sorted(set(text))
    index = {c: i for i, c in enumerate(alphabet)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    vocab = len(alphabet)
    params = sum(p.numel() for p in build_model(args, vocab).parameters())
    print(
        f"text: {len(text):,} characters of the Python {sys.version.split()[0]} "
        f"standard library, vocabulary {vocab}"
    )
    print(
        f"model: {params:,} params; torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads; fastrmsprop backend "
        f"{fastrmsprop.backend()}"
    )
    print()

    families = (
        ["rmsprop", "adam", "adagrad"] if args.optimizer == "all" else [args.optimizer]
    )
    training = batches(data, args.steps, args.batch, args.context, args.seed)
    for family in families:
        names = TRAINED[family]
        runs = {name: train(name, args, vocab, training) for name in names}
        print_curves(names, runs, args.print_every)
        print()

    if args.bench_repeats:
        variants = [n for n, (family, _) in VARIANTS.items() if family in families]
        if args.optimizer == "rmsprop":
            # The fused torch kernels exist for Adam and Adagrad, not RMSprop.
            variants += [
                "torch Adam fused",
                "fastrmsprop Adam",
                "torch Adagrad fused",
                "fastrmsprop Adagrad",
            ]
        print_bench(bench_steps(variants, args, vocab, training), params)


if __name__ == "__main__":
    main()
