#!/usr/bin/env python3
"""Cargo runner for wasm32-wasip1 test binaries (see .cargo/config.toml).

Runs the binary in wasmtime (PyPI, installed by `cargo xtask test` into
target/tools/python). Test binaries link the http-wasm guest, so they import
`http_handler.*`; those imports are defined as traps: a unit test that
reached the real host ABI would fail loudly instead of passing silently.
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "target" / "tools" / "python"))
try:
    import wasmtime
except ImportError:
    sys.exit("wasi_runner: wasmtime is not installed; run `cargo xtask test` (it installs it under target/tools/python)")


def main() -> int:
    wasm, args = sys.argv[1], sys.argv[2:]
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, wasm)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    linker.define_unknown_imports_as_traps(module)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [wasm, *args]
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    wasi.env = [(k, v) for k, v in os.environ.items() if k.startswith(("RUST_", "EDGEGUARD_"))]
    wasi.preopen_dir(os.getcwd(), ".")
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
