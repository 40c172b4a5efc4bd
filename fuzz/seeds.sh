#!/usr/bin/env bash
# Writes one small valid input per target into seeds/<target>/, so the fuzzer
# starts from real formats rather than from nothing.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p seeds/csv seeds/idx seeds/idx_gzip seeds/safetensors
python3 - <<'PY'
import gzip, struct
row = lambda label: ",".join([str(label)] + [str((i * 7) % 256) for i in range(784)]) + "\n"
open("seeds/csv/two-rows.csv", "w").write(row(3) + row(9))
images = struct.pack(">IIII", 0x803, 1, 28, 28) + bytes((i * 7) % 256 for i in range(784))
labels = struct.pack(">II", 0x801, 1) + bytes([7])
cut = len(images)
open("seeds/idx/one-image", "wb").write(struct.pack("<H", cut) + images + labels)
open("seeds/idx_gzip/one-image", "wb").write(gzip.compress(images)[2:])
PY
# A real trained teacher (fetches MNIST on first use).
(cd .. && cargo run --release --quiet --example teacher_student -- --save-teacher fuzz/seeds/safetensors/teacher.safetensors > /dev/null)
