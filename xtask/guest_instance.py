#!/usr/bin/env python3
"""One http-wasm guest instance in wasmtime, with a minimal http-wasm host.

Used by `cargo xtask test` (the instance-memory check) and
`cargo xtask bench-instance` (init cost and instance memory as numbers).
It runs the real plugin binary the way Traefik does: instantiate, `_start`
(the guest's init: config parse, database open), then `handle_request` per
request, and reports the guest's linear memory size, which never shrinks and
is what each of Traefik's concurrent instances keeps.

    guest_instance.py PLUGIN.wasm CONFIG.json --mount HOST_DIR:/GUEST_DIR
        [--lookups N] [--init-runs N] [--clients FILE]

prints one JSON object:
    memory_after_init   bytes of linear memory after `_start`
    memory_after_lookups bytes after N requests from N distinct clients
    initial_memory      bytes the module declares (stack + data + first heap)
    init_us             median wall time of `_start` over --init-runs fresh instances
    instantiate_us      median wall time of instantiation (before `_start`)
    request_us          mean wall time per request (host calls go through Python:
                        a rough figure; the fuel figures are the guest's own cost)
    init_fuel           wasm instructions `_start` executed (wasmtime fuel: about one
                        unit per instruction, exact and repeatable whatever the load)
    request_fuel        mean wasm instructions per request over the sequence
    status              the status of the last request (0: passed on)
"""
import argparse
import ipaddress
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "target" / "tools" / "python"))
try:
    import wasmtime
except ImportError:
    sys.exit("guest_instance: wasmtime is not installed; run `cargo xtask test` (it installs it under target/tools/python)")

WASM_PAGE = 65536


class Host:
    """The request the guest sees, and what it did to it."""

    def __init__(self, config: bytes):
        self.config = config
        self.peer = b"127.0.0.1:40000"
        self.headers = []  # [(name bytes, value bytes)]
        self.status = 0
        self.memory = None
        self.logs = []

    def read(self, store, ptr, n):
        return bytes(self.memory.read(store, ptr, ptr + n))

    def write(self, store, ptr, limit, data):
        if len(data) <= limit:
            self.memory.write(store, data, ptr)
        return len(data)

    def define(self, linker, store):
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

        def func(name, params, results, fn):
            ty = wasmtime.FuncType(params, results)
            linker.define_func("http_handler", name, ty, fn, access_caller=True)

        def joined(values):
            return b"".join(v + b"\0" for v in values)

        def get_config(c, buf, limit):
            return self.write(c, buf, limit, self.config)

        def log(c, level, buf, n):
            self.logs.append((level, self.read(c, buf, n).decode("utf-8", "replace")))

        def log_enabled(c, level):
            return 1 if level >= 1 else 0

        def get_source_addr(c, buf, limit):
            return self.write(c, buf, limit, self.peer)

        def get_method(c, buf, limit):
            return self.write(c, buf, limit, b"GET")

        def get_uri(c, buf, limit):
            return self.write(c, buf, limit, b"/")

        def get_header_names(c, kind, buf, limit):
            if kind != 0:
                return 0
            names = []
            for name, _ in self.headers:
                if name.lower() not in (n.lower() for n in names):
                    names.append(name)
            data = joined(names)
            self.write(c, buf, limit, data)
            return (len(names) << 32) | len(data)

        def get_header_values(c, kind, name, name_len, buf, limit):
            if kind != 0:
                return 0
            want = self.read(c, name, name_len).lower()
            values = [v for n, v in self.headers if n.lower() == want]
            data = joined(values)
            self.write(c, buf, limit, data)
            return (len(values) << 32) | len(data)

        def set_header_value(c, kind, name, name_len, value, value_len):
            if kind != 0:
                return
            n, v = self.read(c, name, name_len), self.read(c, value, value_len)
            self.headers = [(k, x) for k, x in self.headers if k.lower() != n.lower()] + [(n, v)]

        def add_header_value(c, kind, name, name_len, value, value_len):
            if kind == 0:
                self.headers.append((self.read(c, name, name_len), self.read(c, value, value_len)))

        def remove_header(c, kind, name, name_len):
            if kind == 0:
                n = self.read(c, name, name_len).lower()
                self.headers = [(k, x) for k, x in self.headers if k.lower() != n]

        def set_status_code(c, code):
            self.status = code

        def write_body(c, kind, buf, n):
            pass

        def enable_features(c, features):
            return features

        func("get_config", [i32, i32], [i32], get_config)
        func("log", [i32, i32, i32], [], log)
        func("log_enabled", [i32], [i32], log_enabled)
        func("enable_features", [i32], [i32], enable_features)
        func("get_source_addr", [i32, i32], [i32], get_source_addr)
        func("get_method", [i32, i32], [i32], get_method)
        func("get_uri", [i32, i32], [i32], get_uri)
        func("get_header_names", [i32, i32, i32], [i64], get_header_names)
        func("get_header_values", [i32, i32, i32, i32, i32], [i64], get_header_values)
        func("set_header_value", [i32, i32, i32, i32, i32], [], set_header_value)
        func("add_header_value", [i32, i32, i32, i32, i32], [], add_header_value)
        func("remove_header", [i32, i32, i32], [], remove_header)
        func("set_status_code", [i32], [], set_status_code)
        func("write_body", [i32, i32, i32], [], write_body)


def leb(b, i, signed=False):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            if signed and x & 0x40:
                r -= 1 << s
            return r, i


def stack_top(wasm):
    """The initial `__stack_pointer` (the first global): the stack's size, as
    rustc's wasm targets put the stack first and let it grow down from there."""
    b = Path(wasm).read_bytes()
    i = 8
    while i < len(b):
        section, i = b[i], i + 1
        n, i = leb(b, i)
        if section == 6:
            _, j = leb(b, i)
            if b[j + 2] == 0x41:  # type, mutability, then `i32.const`
                return leb(b, j + 3, signed=True)[0]
        i += n
    return None


def stack_used(store, memory, top):
    """Bytes of stack ever written: below the lowest non-zero byte nothing was
    (linear memory starts zeroed). A lower bound, close when frames hold data."""
    if not top:
        return None
    low = bytes(memory.read(store, 0, top))
    first = next((i for i, x in enumerate(low) if x), top)
    return top - first


FUEL = 1 << 62


def instance(engine, module, config, mounts, env=()):
    """A fresh store, host and instance (before `_start`), with fuel to count instructions."""
    store = wasmtime.Store(engine)
    store.set_fuel(FUEL)
    wasi = wasmtime.WasiConfig()
    for host_dir, guest_dir in mounts:
        wasi.preopen_dir(host_dir, guest_dir)
    wasi.env = [tuple(e.split("=", 1)) for e in env]
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.allow_shadowing = True
    linker.define_wasi()
    host = Host(config)
    host.define(linker, store)
    linker.define_unknown_imports_as_traps(module)
    inst = linker.instantiate(store, module)
    host.memory = inst.exports(store)["memory"]
    return store, host, inst


def clients(n):
    """n distinct public IPv4 addresses, each in its own /24, spread over the space."""
    out = []
    if n == 0:
        return out
    step = (223 << 24) // n
    base = 1 << 24
    for i in range(n):
        addr = (base + i * step) & ~0xFF | 1 + i % 200
        out.append(str(ipaddress.IPv4Address(addr)))
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("wasm")
    p.add_argument("config")
    p.add_argument("--mount", action="append", default=[])
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the guest's environment")
    p.add_argument("--lookups", type=int, default=10000)
    p.add_argument("--init-runs", type=int, default=20)
    p.add_argument("--clients", help="file of client addresses, one a line, used in order (cycled) instead of N distinct /24s")
    args = p.parse_args()
    config = Path(args.config).read_bytes()
    mounts = [tuple(m.split(":", 1)) for m in args.mount]
    engine_config = wasmtime.Config()
    engine_config.consume_fuel = True
    engine = wasmtime.Engine(engine_config)
    module = wasmtime.Module.from_file(engine, args.wasm)
    initial = next(e.type.limits.min for e in module.exports if e.name == "memory") * WASM_PAGE

    inits, insts = [], []
    for _ in range(max(1, args.init_runs)):
        t0 = time.perf_counter()
        store, host, inst = instance(engine, module, config, mounts, args.env)
        t1 = time.perf_counter()
        fuel = store.get_fuel()
        inst.exports(store)["_start"](store)
        t2 = time.perf_counter()
        init_fuel = fuel - store.get_fuel()
        insts.append((t1 - t0) * 1e6)
        inits.append((t2 - t1) * 1e6)
    after_init = host.memory.data_len(store)
    top = stack_top(args.wasm)
    stack_after_init = stack_used(store, host.memory, top)
    errors = [m for level, m in host.logs if level >= 1]

    handle = inst.exports(store)["handle_request"]
    t0 = time.perf_counter()
    fuel = store.get_fuel()
    last = 0
    if args.clients:
        listed = Path(args.clients).read_text().split()
        sequence = [listed[i % len(listed)] for i in range(args.lookups)]
    else:
        sequence = clients(args.lookups)
    for ip in sequence:
        host.headers = [(b"X-Forwarded-For", ip.encode()), (b"Accept", b"*/*")]
        host.status = 0
        last = handle(store)
    per_request = (time.perf_counter() - t0) * 1e6 / max(1, args.lookups)
    request_fuel = (fuel - store.get_fuel()) / max(1, args.lookups)
    print(json.dumps({
        "initial_memory": initial,
        "memory_after_init": after_init,
        "memory_after_lookups": host.memory.data_len(store),
        "lookups": args.lookups,
        "stack_size": top,
        "stack_used_init": stack_after_init,
        "stack_used": stack_used(store, host.memory, top),
        "init_us": statistics.median(inits),
        "instantiate_us": statistics.median(insts),
        "request_us": per_request,
        "init_fuel": init_fuel,
        "request_fuel": request_fuel,
        "next": last & 1,
        "status": host.status,
        "last_headers": {k.decode(): v.decode("latin-1") for k, v in host.headers},
        "errors": errors,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
