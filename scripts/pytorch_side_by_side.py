"""Dense and convolutional networks in PyTorch and in mimic, on this machine, in one run.

Both train the same networks the same way — batch 64, Adam 1e-3, shuffled, the
60,000 MNIST training images scaled to [0, 1], on 1 and on 2 threads — and are
timed the same way: the fastest of a few runs. mimic's side is its `speed`
example (dense networks from sparse rows, as its users feed pixels). Prints a
Markdown table (the one in docs/performance.md).

Set up once (PyTorch from PyPI with its CUDA dependencies, about 5 GB; it runs
on the CPU here), then run from the repository's root:

    python3 -m venv target/torch && target/torch/bin/pip install torch numpy
    target/torch/bin/python scripts/pytorch_side_by_side.py

Not run by CI. MNIST is read from data/mnist (fetched by mimic's
`fetch_mnist` example if missing).
"""

import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "mnist")


def idx(name):
    path = os.path.join(DATA, name)
    opener = gzip.open if not os.path.exists(path) else open
    with opener(path if os.path.exists(path) else path + ".gz", "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def dense(*widths):
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return lambda: nn.Sequential(nn.Flatten(), *layers[:-1])


def tiny():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(576, 10),
    )


def fastest(runs, work):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def measure(make, x, y, threads, epochs=2):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    start = make()
    loss = nn.CrossEntropyLoss()

    def epoch():
        net = make()
        net.load_state_dict(start.state_dict())
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        order = torch.randperm(len(x))
        for k in range(0, len(x), 64):
            batch = order[k : k + 64]
            opt.zero_grad()
            loss(net(x[batch]), y[batch]).backward()
            opt.step()

    result = {"epoch_s": fastest(epochs, epoch)}
    if threads == 1 and make in (lenet, tiny):
        net, bx, by = start, x[:64], y[:64]
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def forward():
            with torch.no_grad():
                net(bx)

        def forward_backward():
            net.zero_grad()
            loss(net(bx), by).backward()

        def step():
            opt.zero_grad()
            loss(net(bx), by).backward()
            opt.step()

        result["forward_ms"] = 1e3 * fastest(200, forward)
        result["forward_backward_ms"] = 1e3 * fastest(200, forward_backward)
        result["step_ms"] = 1e3 * fastest(50, step)
    return result


def main():
    if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte")):
        subprocess.run(["cargo", "run", "--release", "--quiet", "--example", "fetch_mnist"], cwd=ROOT, check=True)
    images = idx("train-images-idx3-ubyte").astype(np.float32) / 255.0
    labels = idx("train-labels-idx1-ubyte").astype(np.int64)
    x = torch.from_numpy(images).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(labels)

    # Built first, so that nothing compiles while either is timed.
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "speed"], cwd=ROOT, check=True)
    networks = {
        "teacher": (dense(784, 16, 16, 10), 3),
        "wide": (dense(784, 256, 256, 10), 2),
        "wider": (dense(784, 1024, 1024, 10), 1),
        "lenet": (lenet, 2),
        "tiny": (tiny, 2),
    }
    torch_results = {
        name: {threads: measure(make, x, y, threads, runs) for threads in (1, 2)}
        for name, (make, runs) in networks.items()
    }
    out = subprocess.run(
        [os.path.join(ROOT, "target", "release", "examples", "speed")],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    mimic = json.loads(out.strip().splitlines()[-1])

    version = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, capture_output=True, text=True).stdout)["packages"][0]["version"]
    print(f"PyTorch {torch.__version__} (CPU), mimic {version}; one epoch of 60,000 images, batch 64, Adam 1e-3, shuffled")
    print()
    print("| network | threads | PyTorch | mimic | PyTorch ÷ mimic |")
    print("|---|---|---|---|---|")
    names = {
        "teacher": "784→16→16→10",
        "wide": "784→256→256→10",
        "wider": "784→1024→1024→10",
        "lenet": "LeNet-5",
        "tiny": "tiny CNN",
    }
    for name in networks:
        for threads, key in ((1, "epoch_s"), (2, "epoch_2_threads_s")):
            t, m = torch_results[name][threads]["epoch_s"], mimic[name][key]
            print(f"| {names[name]} | {threads} | {t:.3f} s | {m:.3f} s | {t / m:.2f}× |")
    print()
    print("| one batch of 64 images, 1 thread | PyTorch | mimic | PyTorch ÷ mimic |")
    print("|---|---|---|---|")
    for name in ("lenet", "tiny"):
        for key, what in (("forward_ms", "forward"), ("forward_backward_ms", "forward + backward"), ("step_ms", "whole Adam step")):
            t, m = torch_results[name][1][key], mimic[name][key]
            print(f"| {names[name]}: {what} | {t:.3f} ms | {m:.3f} ms | {t / m:.2f}× |")


if __name__ == "__main__":
    sys.exit(main())
