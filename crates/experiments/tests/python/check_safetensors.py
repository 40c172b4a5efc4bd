"""Loads a model saved by mimic with safetensors.numpy and checks it against the
numbers the Rust test computed: every tensor's shape, sums, and the forward pass
LeakyReLU(W·x + b) of a 784→16→16→10 teacher for one input."""
import json
import sys

import numpy as np
from safetensors.numpy import load_file

model_path, expected_path = sys.argv[1], sys.argv[2]
tensors = load_file(model_path)
expected = json.load(open(expected_path))

for name, shape in expected["shapes"].items():
    assert tensors[name].dtype == np.float32, (name, tensors[name].dtype)
    assert list(tensors[name].shape) == shape, (name, tensors[name].shape, shape)
    total = float(tensors[name].astype(np.float64).sum())
    assert abs(total - expected["sums"][name]) < 1e-4, (name, total, expected["sums"][name])

x = np.array(expected["input"], dtype=np.float32)
for i in range(len(expected["shapes"]) // 2):
    z = tensors[f"{i}.weight"] @ x + tensors[f"{i}.bias"]
    x = np.where(z > 0, z, np.float32(0.1) * z)
difference = np.abs(x - np.array(expected["output"], dtype=np.float32)).max()
assert difference < 1e-5, difference
print(f"python: {len(tensors)} tensors match, forward pass within {difference:.2e}")
