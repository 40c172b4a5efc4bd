#!/usr/bin/env bash
# Writes one small valid input per target into seeds/<target>/, so the fuzzer
# starts from real formats rather than from nothing.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p seeds/csv seeds/idx seeds/idx_gzip seeds/safetensors seeds/persist_load seeds/export
python3 - <<'PY'
import gzip, struct
row = lambda label: ",".join([str(label)] + [str((i * 7) % 256) for i in range(784)]) + "\n"
open("seeds/csv/two-rows.csv", "w").write(row(3) + row(9))
images = struct.pack(">IIII", 0x803, 1, 28, 28) + bytes((i * 7) % 256 for i in range(784))
labels = struct.pack(">II", 0x801, 1) + bytes([7])
cut = len(images)
open("seeds/idx/one-image", "wb").write(struct.pack("<H", cut) + images + labels)
open("seeds/idx_gzip/one-image", "wb").write(gzip.compress(images)[2:])

# persist_load: a 4→3→2 network saved with each loss, as mimic writes it (the
# checksum over tensors and metadata included).
import hashlib, json
def model(loss, settings):
    tensors = {}
    for i, (o, n) in enumerate([(3, 4), (2, 3)]):
        tensors[f"{i}.weight"] = ([o, n], [((k * 7) % 13 - 6) / 10 for k in range(o * n)])
        tensors[f"{i}.bias"] = ([o], [0.05 * k for k in range(o)])
    meta = {"format": "mimic", "mimic_version": "0.2.0", "layers": "2", "loss": loss}
    meta.update(settings)
    for i in range(2):
        meta[f"{i}.activation"], meta[f"{i}.slope"] = "leaky_relu", "0.1"
    data = {k: b"".join(struct.pack("<f", x) for x in v) for k, (_, v) in tensors.items()}
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode() + b"\0")
        for d in tensors[name][0]:
            h.update(struct.pack("<Q", d))
        h.update(struct.pack("<Q", len(data[name])) + data[name])
    for k in sorted(meta):
        h.update(struct.pack("<Q", len(k)) + k.encode() + struct.pack("<Q", len(meta[k])) + meta[k].encode())
    meta["checksum"] = h.hexdigest()
    header, body, offset = {"__metadata__": meta}, b"", 0
    for name in sorted(tensors):
        header[name] = {"dtype": "F32", "shape": tensors[name][0], "data_offsets": [offset, offset + len(data[name])]}
        body += data[name]
        offset += len(data[name])
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body
for name, loss, settings in [
    ("cross-entropy", "CrossEntropy", {}),
    ("mse", "Mse", {}),
    ("label-smoothing", "LabelSmoothing", {"loss.epsilon": "0.1"}),
    ("distillation", "Distillation", {"loss.temperature": "4", "loss.alpha": "0.5"}),
]:
    open(f"seeds/persist_load/{name}.safetensors", "wb").write(model(loss, settings))

# export: two item names, a doc string, a header, a guard (0-separated), then
# the networks' parameters as f32s.
texts = [b"NET", b"NET_B", b"line one\n*/ int x; /*", b"Generated: do not edit.", b"NET_H"]
floats = struct.pack("<40f", 0.1, *[((i * 37) % 11 - 5) / 7 for i in range(39)])
open("seeds/export/two-networks", "wb").write(b"\0".join(texts) + b"\0" + floats)
PY
# A real trained teacher (fetches MNIST on first use).
(cd .. && cargo run --release --quiet --example teacher_student -- --save-teacher fuzz/seeds/safetensors/teacher.safetensors > /dev/null)
cp seeds/safetensors/teacher.safetensors seeds/persist_load/teacher.safetensors
