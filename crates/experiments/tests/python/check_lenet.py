"""Loads a LeNet-5 saved by mimic with safetensors.numpy and runs it in NumPy
from PyTorch's conventions alone — convolution weights [CO, C, K, K], NCHW
images, flatten in C·H·W order, Linear weights [OUT, IN] — checking that the
logits are the ones the Rust test computed."""
import json
import sys

import numpy as np
from safetensors.numpy import load_file

model_path, expected_path = sys.argv[1], sys.argv[2]
tensors = {k: v.astype(np.float64) for k, v in load_file(model_path).items()}
expected = json.load(open(expected_path))


def conv(x, w, b, padding):
    co, c, k, _ = w.shape
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    oh, ow = x.shape[1] - k + 1, x.shape[2] - k + 1
    out = np.zeros((co, oh, ow))
    for kh in range(k):
        for kw in range(k):
            out += np.einsum("oc,chw->ohw", w[:, :, kh, kw], x[:, kh : kh + oh, kw : kw + ow])
    return np.maximum(out + b[:, None, None], 0.0)


def pool(x):
    c, h, w = x.shape
    return x.reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))


assert list(tensors["0.weight"].shape) == [6, 1, 5, 5], tensors["0.weight"].shape
assert list(tensors["1.weight"].shape) == [16, 6, 5, 5], tensors["1.weight"].shape
x = np.array(expected["input"], dtype=np.float64).reshape(1, 28, 28)
x = pool(conv(x, tensors["0.weight"], tensors["0.bias"], 2))
x = pool(conv(x, tensors["1.weight"], tensors["1.bias"], 0)).reshape(-1)
x = np.maximum(tensors["2.weight"] @ x + tensors["2.bias"], 0.0)
x = np.maximum(tensors["3.weight"] @ x + tensors["3.bias"], 0.0)
x = tensors["4.weight"] @ x + tensors["4.bias"]
difference = np.abs(x - np.array(expected["output"])).max()
assert difference < 1e-4, (difference, x, expected["output"])
print(f"python: LeNet-5 logits within {difference:.2e}")
