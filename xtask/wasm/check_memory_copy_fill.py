#!/usr/bin/env python3
"""Checks xtask/wasm/memory-copy-fill.wat, the word-at-a-time `memory.copy` and
`memory.fill` the plugin runs instead of binaryen's byte loops, against a model
in wasmtime: 20 000 random copies (overlapping either way, all lengths around
the 8-byte word) and fills, then the out-of-bounds traps (with nothing written,
also when a range's end wraps past 2^32).

    check_memory_copy_fill.py MODULE.wasm   (memory-copy-fill.wat assembled)
"""
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "target" / "tools" / "python"))
import wasmtime  # noqa: E402

SIZE = 65536


def main() -> int:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    inst = wasmtime.Instance(store, wasmtime.Module.from_file(engine, sys.argv[1]), [])
    mem, copy, fill = (inst.exports(store)[n] for n in ("memory", "copy", "fill"))
    rnd = random.Random(1)
    model = bytearray(rnd.randbytes(SIZE))
    mem.write(store, bytes(model), 0)
    for _ in range(20000):
        n = rnd.choice([0, 1, 2, 7, 8, 9, 15, 16, 17, 100, 1000, 5000])
        if rnd.random() < 0.6:
            src = rnd.randrange(0, SIZE - n + 1)
            near = range(max(0, src - 20), min(SIZE - n, src + 20) + 1)
            dst = rnd.choice(near) if rnd.random() < 0.5 else rnd.randrange(0, SIZE - n + 1)
            copy(store, dst, src, n)
            model[dst:dst + n] = bytes(model[src:src + n])
        else:
            dst, value = rnd.randrange(0, SIZE - n + 1), rnd.randrange(0, 1 << 32)
            fill(store, dst, value, n)
            model[dst:dst + n] = bytes([value & 255]) * n
    if bytes(mem.read(store, 0, SIZE)) != bytes(model):
        print("memory-copy-fill.wat: memory differs from the model")
        return 1
    before = bytes(mem.read(store, 0, SIZE))
    wraps = 1 << 32
    for name, f, args in [("copy to", copy, (SIZE - 6, 0, 7)), ("copy from", copy, (0, SIZE - 6, 7)),
                          ("fill", fill, (SIZE - 6, 1, 7)),
                          ("copy to, end wrapping", copy, (wraps - 16, 0, 32)),
                          ("copy from, end wrapping", copy, (0, wraps - 16, 32)),
                          ("fill, end wrapping", fill, (0x100, 0xAA, wraps - 1))]:
        try:
            f(store, *args)
            print(f"memory-copy-fill.wat: {name} past the end did not trap")
            return 1
        except wasmtime.Trap:
            pass
    if bytes(mem.read(store, 0, SIZE)) != before:
        print("memory-copy-fill.wat: an out-of-bounds call wrote before trapping")
        return 1
    print("memory-copy-fill.wat: 20000 random copies and fills equal the model; out-of-bounds calls trap unwritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
