"""Performance benchmarks (issue 7): prints figures next to their floors, ratios and targets.

Sections (every figure is the median wall time of real subprocesses, start-up included on both
sides of a ratio; peak memory is the child's ru_maxrss from os.wait4):

* Start-up: ``sporder resolve AF_INET SOCK_STREAM IPPROTO_TCP --json`` and ``sporder list --json``
  on the default catalog vs ``python -c "import click, tomllib, json"`` (bench/startup.py's
  functions).  Target <= 1.3.
* Scale: a generated catalog (bench/gen_catalog.py) of 10,000 entries.  Reads (list --json,
  resolve, doctor) vs ``tomllib.load`` of the same file: target <= 1.3.  Mutations
  (install-lsp --over-all, uninstall of an LSP others are layered on, move) vs tomllib parse +
  tomli-w dump + fsync of the same file: target <= 1.6.  Peak memory vs the floor's: <= 2.
  Mutations and their floor run on a fresh copy of the file each run (the copy is not timed).
* Growth: the same commands at 100, 1,000, 10,000 and 50,000 entries; time per entry, the
  marginal time per added entry and the growth exponent (1.0 = linear, 2.0 = quadratic).
* Batch: ``apply`` of 1,000 operations in one transaction vs one single-operation command
  (both on a fresh copy of the shipped default catalog): target <= 5.
* Library: resolver calls per second on the default catalog and on the 10,000-entry one.
* Profile: cProfile (top 15 by cumulative time) of the slowest command at the scale size.

Entries count protocol entries in the whole file: a generated N-entry file holds N/2 entries in
each of its two catalogs (64 and 32, the same ids, as on real 64-bit Windows).

Run: python bench/run.py [--quick] [--runs N] [--sizes N ...]   (full mode: ~20 minutes on 2 CPUs)
Exit status 0, or 1 when a benchmarked command did not succeed (its figures mean nothing).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sporder_py.model import Catalog

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [p for p in (str(HERE), str(ROOT)) if p not in sys.path]

import startup  # noqa: E402  (bench/startup.py: sporder(), median_ms(), TARGET)

READ_TARGET = 1.3
WRITE_TARGET = 1.6
MEMORY_TARGET = 2.0
BATCH_TARGET = 5.0
STARTUP_TARGET = startup.TARGET
FULL_SIZES = [100, 1000, 10000, 50000]
QUICK_SIZES = [100, 1000]
SCALE_SIZE = 10000
RESOLVE_ARGS = ["resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "--json"]

READ_FLOOR = "import sys, tomllib; tomllib.load(open(sys.argv[1], 'rb'))"
WRITE_FLOOR = ("import os, sys, tomllib, tomli_w\n"
               "p = sys.argv[1]\n"
               "d = tomllib.load(open(p, 'rb'))\n"
               "b = tomli_w.dumps(d).encode()\n"
               "t = p + '.tmp'\n"
               "fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n"
               "os.write(fd, b)\n"
               "os.fsync(fd)\n"
               "os.close(fd)\n"
               "os.replace(t, p)\n")


# --- environment -----------------------------------------------------------------------------

def prepare_environment(work: Path) -> dict[str, str]:
    """Children run like an install: .pyc caching on, PYTHONPATH only when not installed."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    installed = subprocess.run([sys.executable, "-c", "import sporder_py"], env=bare, cwd=work,
                               capture_output=True).returncode == 0
    if installed:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = str(ROOT)
    return {**os.environ}


# --- one child process -----------------------------------------------------------------------

@dataclass
class Sample:
    ms: float
    cpu_ms: float             # user + system CPU time of the child (robust to a busy machine)
    rss_kb: int
    code: int
    timed_out: bool = False
    stderr: str = ""


def _gnu_time() -> str | None:
    """GNU time, which reports the peak RSS of a child it forks itself.  ru_maxrss from our own
    os.wait4 is not usable alone: Linux starts a child's high-water mark at its parent's
    (fork/exec keep the larger), and this process holds generated catalogs."""
    path = "/usr/bin/time"
    if not os.access(path, os.X_OK):
        return None
    probe = subprocess.run([path, "-f", "%M", "-o", os.devnull, "true"], capture_output=True)
    return path if probe.returncode == 0 else None


GNU_TIME = _gnu_time()
MEMORY_NOTE = ("peak RSS measured by GNU time -f %M" if GNU_TIME else
               "peak RSS from os.wait4 (an upper bound: it includes this process's own peak)")


def run_child(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float,
              capture: bool = False) -> Sample:
    """Wall time from spawn to reap, user+system CPU time (os.wait4; includes the child's own
    children) and the peak RSS (KiB) of the command."""
    err = tempfile.TemporaryFile() if capture else subprocess.DEVNULL
    memfile = None
    if GNU_TIME:
        fd, memfile = tempfile.mkstemp(prefix="rss-", dir=cwd)
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%M", "-o", memfile, *cmd]
    done = threading.Event()
    killed = threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, env=env, cwd=cwd, start_new_session=True)

    def kill() -> None:
        if not done.is_set():
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        done.set()
        timer.cancel()
    ms = (time.perf_counter() - t0) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss
    if memfile is not None:
        lines = Path(memfile).read_text().split()
        os.unlink(memfile)
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    text = ""
    if capture:
        err.seek(0)                                    # type: ignore[union-attr]
        text = err.read().decode("utf-8", "replace")   # type: ignore[union-attr]
        err.close()                                    # type: ignore[union-attr]
    cpu = (usage.ru_utime + usage.ru_stime) * 1000
    return Sample(ms, cpu, rss, proc.returncode, killed.is_set(), text)


@dataclass
class Figure:
    label: str
    ms: float | None              # median; None when the command timed out
    cpu_ms: float | None
    rss_kb: int
    runs: int
    code: int
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def mb(self) -> float:
        return self.rss_kb / 1024


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, env: dict[str, str]) -> None:
        self.args = args
        self.work = work
        self.env = env
        self.failures: list[str] = []
        self.counter = 0

    def fresh_copy(self, master: Path) -> Path:
        self.counter += 1
        d = self.work / f"run-{self.counter}"
        d.mkdir()
        dest = d / master.name
        shutil.copyfile(master, dest)
        return dest

    def measure(self, label: str, make: Callable[[], tuple[list[str], Path | None]],
                runs: int, expect: tuple[int, ...] = (0,),
                extra_env: dict[str, str] | None = None) -> Figure:
        """``make()`` returns (argv, directory to delete afterwards or None); it is called
        before each run, untimed.  One warm-up run (pyc, page cache) is discarded unless it
        took longer than --slow seconds: then it is the only sample."""
        def one(capture: bool) -> Sample:
            cmd, cleanup = make()
            try:
                return run_child(cmd, {**self.env, **(extra_env or {})}, self.work,
                                 self.args.timeout, capture)
            finally:
                if cleanup is not None:
                    shutil.rmtree(cleanup, ignore_errors=True)

        warm = one(capture=True)
        if warm.timed_out:
            return Figure(label, None, None, warm.rss_kb, 0, warm.code,
                          f"timed out after {self.args.timeout:g} s")
        if warm.code not in expect:
            tail = " | ".join(warm.stderr.strip().splitlines()[-3:])
            self.failures.append(f"{label}: exit {warm.code} (expected {expect}): {tail}")
        if warm.ms > self.args.slow * 1000:
            samples = [warm]
            note = "1 run (slow)"
        else:
            samples = [one(capture=False) for _ in range(runs)]
            note = ""
        codes = {s.code for s in samples}
        if codes - set(expect):
            self.failures.append(f"{label}: exit codes {sorted(codes)}")
        return Figure(label, statistics.median(s.ms for s in samples),
                      statistics.median(s.cpu_ms for s in samples),
                      max(s.rss_kb for s in samples), len(samples), warm.code, note,
                      [s.ms for s in samples])


def sporder_cmd() -> list[str]:
    return startup.sporder()


# --- the commands at one size ----------------------------------------------------------------

READS = ["list --json", "resolve AF_INET SOCK_STREAM IPPROTO_TCP --json", "doctor --json"]
WRITES = ["install-lsp --over-all", "uninstall (layered-on LSP)", "move --top"]
FLOORS = ["floor: tomllib.load", "floor: parse+dump+fsync"]


def read_argv(label: str, path: Path) -> list[str]:
    rest = {"list --json": ["list", "--json"], READS[1]: RESOLVE_ARGS,
            "doctor --json": ["doctor", "--json"]}[label]
    return [*sporder_cmd(), "--catalog", str(path), *rest]


def write_argv(label: str, path: Path, meta: dict) -> list[str]:
    rest = {
        WRITES[0]: ["install-lsp", "--name", "Bench LSP", "--path",
                    "%SystemRoot%\\system32\\benchlsp.dll", "--over-all", "--json"],
        WRITES[1]: ["uninstall", str(meta["uninstall_lsp"]), "--json"],
        WRITES[2]: ["move", str(meta["move_id"]), "--top", "--json"],
    }[label]
    return [*sporder_cmd(), "--catalog", str(path), *rest]


def measure_size(b: Bench, master: Path, meta: dict, runs: int) -> dict[str, Figure]:
    out: dict[str, Figure] = {}

    def fixed(argv: list[str]) -> Callable[[], tuple[list[str], Path | None]]:
        return lambda: (argv, None)

    def fresh(build: Callable[[Path], list[str]]) -> Callable[[], tuple[list[str], Path | None]]:
        def make() -> tuple[list[str], Path | None]:
            copy = b.fresh_copy(master)
            return build(copy), copy.parent
        return make

    out[FLOORS[0]] = b.measure(FLOORS[0], fixed([sys.executable, "-c", READ_FLOOR, str(master)]),
                               runs)
    for label in READS:
        out[label] = b.measure(label, fixed(read_argv(label, master)), runs)
    out[FLOORS[1]] = b.measure(FLOORS[1], fresh(lambda p: [sys.executable, "-c", WRITE_FLOOR,
                                                           str(p)]), runs)
    for label in WRITES:
        if label == WRITES[1] and meta.get("uninstall_lsp") is None:
            continue
        out[label] = b.measure(label, fresh(lambda p, label=label: write_argv(label, p, meta)),
                               runs)
    return out


# --- formatting ------------------------------------------------------------------------------

def fmt_ms(f: Figure | None) -> str:
    if f is None:
        return "-"
    return "timeout" if f.ms is None else f"{f.ms:.1f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def verdict(r: float | None, target: float) -> str:
    if r is None:
        return "n/a"
    return "ok" if r <= target else "OVER"


def section(title: str) -> None:
    print()
    print(title)
    print("-" * len(title))


# --- sections --------------------------------------------------------------------------------

def startup_section(args: argparse.Namespace) -> None:
    section(f"Start-up (default catalog; median of {args.startup_runs} runs; "
            f"floor = python -c 'import click, tomllib, json')")
    floor = startup.median_ms([sys.executable, "-c", "import click, tomllib, json"],
                              args.startup_runs)
    print(f"{'command':<58} {'median ms':>9} {'floor ms':>9} {'ratio':>6}  target  verdict")
    for label, argv, env in (("sporder " + " ".join(RESOLVE_ARGS), RESOLVE_ARGS, None),
                             ("sporder list --json", ["list", "--json"], None)):
        ms = startup.median_ms(sporder_cmd() + argv, args.startup_runs, env)
        r = ms / floor
        print(f"{label:<58} {ms:9.1f} {floor:9.1f} {r:6.2f}  "
              + (f"<= {STARTUP_TARGET:<4}{verdict(r, STARTUP_TARGET)}" if env is None
                 else "(info: a catalog never read before)"))


def scale_section(size: int, meta: dict, figs: dict[str, Figure]) -> None:
    section(f"Scale: {size:,} entries ({meta['per_catalog']:,} per catalog, "
            f"{meta['bytes'] / 1e6:.1f} MB, {meta['lsps']} LSPs, {meta['chains']} chain entries "
            f"per catalog, {meta['bases']} bases, chains up to {meta['max_chain']})")
    print(f"{'command':<46} {'median ms':>9} {'floor ms':>9} {'ratio':>6} {'target':>7} "
          f"{'':4} {'cpu ratio':>9} | {'peak MB':>7} {'floor MB':>8} {'ratio':>5} {'target':>6}"
          f"{'':6} runs")
    for labels, floor_label, target in ((READS, FLOORS[0], READ_TARGET),
                                        (WRITES, FLOORS[1], WRITE_TARGET)):
        floor = figs[floor_label]
        for label in labels:
            f = figs.get(label)
            if f is None:
                continue
            r = ratio(f.ms, floor.ms)
            cr = ratio(f.cpu_ms, floor.cpu_ms)
            mr = ratio(f.rss_kb, floor.rss_kb)
            name = label if label != WRITES[1] else \
                f"uninstall {meta['uninstall_lsp']} ({meta['uninstall_lsp_dependants']} " \
                "chains layered on it)"
            info = False
            print(f"{name:<46} {fmt_ms(f):>9} {fmt_ms(floor):>9} "
                  f"{'-' if r is None else f'{r:.2f}':>6} "
                  f"{'(info)' if info else '<= ' + str(target):>7} "
                  f"{'' if info else verdict(r, target):4} "
                  f"{'-' if cr is None else f'{cr:.2f}':>9} | "
                  f"{f.mb:7.1f} {floor.mb:8.1f} "
                  f"{'-' if mr is None else f'{mr:.2f}':>5} {'<= ' + str(MEMORY_TARGET):>6}"
                  f"  {verdict(mr, MEMORY_TARGET):4} {f.runs}{' ' + f.note if f.note else ''}")
    print(f"(read floor: python -c \"{READ_FLOOR}\" F; write floor: tomllib.load + "
          "tomli_w.dumps + write + fsync + os.replace, on a fresh copy; same interpreter.  "
          "cpu ratio: the same ratio on the children's user+system CPU time, which other load "
          f"on the machine disturbs less than wall time; {MEMORY_NOTE})")


def growth_section(sizes: list[int], results: dict[int, dict[str, Figure]]) -> None:
    section("Growth: median ms (us per entry) by file size; marginal us per added entry; "
            "exponent k of t ~ n^k between consecutive sizes (1.0 = linear)")
    labels = FLOORS[:1] + READS + FLOORS[1:] + WRITES
    head = "".join(f"{n:>21,}" for n in sizes)
    print(f"{'command':<46}{head}")
    for label in labels:
        cells = []
        for n in sizes:
            f = results[n].get(label)
            if f is None or f.ms is None:
                cells.append(f"{fmt_ms(f):>21}")
            else:
                cells.append(f"{f.ms:>10.1f} ({f.ms * 1000 / n:>7.1f})")
        print(f"{label:<46}{''.join(cells)}")
    if len(sizes) < 2:
        return
    pairs = list(zip(sizes, sizes[1:], strict=False))   # neighbours: one pair fewer than sizes
    head = "".join(f"{f'{a:,}->{b:,}':>24}" for a, b in pairs)
    print()
    print(f"{'marginal us/entry, exponent k':<46}{head}")
    for label in labels:
        cells = []
        for a, b in pairs:
            fa, fb = results[a].get(label), results[b].get(label)
            if fa is None or fb is None or fa.ms is None or fb.ms is None:
                cells.append(f"{'-':>24}")
                continue
            marginal = (fb.ms - fa.ms) * 1000 / (b - a)
            k = math.log(fb.ms / fa.ms) / math.log(b / a)
            cells.append(f"{marginal:>12.1f}  k={k:>5.2f}  ")
        print(f"{label:<46}{''.join(cells)}")


def batch_ops(n: int, first_id: int, seed: int = 11) -> list[dict]:
    """``n`` operations of every kind, valid in sequence on the shipped default catalog:
    per 10: install x3, install-lsp x3, move x2, categories-set, uninstall (of an LSP of
    this round)."""
    rng = random.Random(seed)

    def guid() -> str:
        return "{" + str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper() + "}"
    triples = [("AF_INET", "SOCK_STREAM", "IPPROTO_TCP"), ("AF_INET6", "SOCK_DGRAM", "IPPROTO_UDP"),
               ("AF_INET", "SOCK_DGRAM", "IPPROTO_UDP")]
    ops: list[dict] = []
    nid = first_id
    bases: list[int] = []
    lsps: list[int] = []
    while len(ops) < n:
        slot = len(ops) % 10
        k = len(ops)
        if slot < 3:
            fam, st, proto = triples[k % 3]
            ops.append({"command": "install", "name": f"Batch provider {k}",
                        "path": "%SystemRoot%\\system32\\batchbase.dll", "family": fam,
                        "type": st, "protocol": proto, "provider_id": guid()})
            bases.append(nid)
            nid += 1
        elif slot < 6:
            ops.append({"command": "install-lsp", "name": f"Batch LSP {k}",
                        "path": "%SystemRoot%\\system32\\batchlsp.dll",
                        "over": [bases[-1 - (slot - 3)]], "provider_id": guid(),
                        "categories": ["LSP_INSPECTOR"]})
            lsps.append(nid)
            nid += 2
        elif slot == 6:
            ops.append({"command": "move", "id": bases[-1], "top": True})
        elif slot == 7:
            ops.append({"command": "move", "id": lsps[-1] + 1, "bottom": True})
        elif slot == 8:
            ops.append({"command": "categories-set", "id": lsps[-2],
                        "categories": ["LSP_FIREWALL"]})
        else:
            ops.append({"command": "uninstall", "id": lsps[-3]})
    return ops


def batch_section(b: Bench, args: argparse.Namespace) -> None:
    import tomli_w
    default = ROOT / "catalogs" / "windows-11.toml"
    ops = batch_ops(args.batch_ops, first_id=1015)
    ops_file = b.work / "batch.toml"
    ops_file.write_text(tomli_w.dumps({"operation": ops}), encoding="utf-8")
    section(f"Batch: apply of {len(ops):,} operations in one transaction vs one single-operation "
            f"command (fresh copy of the default catalog each run; median of {args.runs})")

    def fresh(build: Callable[[Path], list[str]]) -> Callable[[], tuple[list[str], Path | None]]:
        def make() -> tuple[list[str], Path | None]:
            copy = b.fresh_copy(default)
            return build(copy), copy.parent
        return make
    single = b.measure("install (1 operation)", fresh(lambda p: [
        *sporder_cmd(), "--catalog", str(p), "install", "--name", "Batch provider",
        "--path", "%SystemRoot%\\system32\\batchbase.dll", "--family", "AF_INET", "--type",
        "SOCK_STREAM", "--protocol", "IPPROTO_TCP",
        "--provider-id", "{0E8D1F4C-5B6A-4C3D-9E2F-1A2B3C4D5E6F}", "--json"]), args.runs)
    applied = b.measure(f"apply ({len(ops):,} operations)", fresh(lambda p: [
        *sporder_cmd(), "--catalog", str(p), "apply", str(ops_file), "--json"]), args.runs)
    r = ratio(applied.ms, single.ms)
    print(f"{'command':<46} {'median ms':>9} {'single ms':>9} {'ratio':>6} {'target':>7}  "
          f"verdict  ms/op  peak MB")
    print(f"{single.label:<46} {fmt_ms(single):>9} {fmt_ms(single):>9} {1.0:6.2f} "
          f"{'':>7}  {'':7}  {fmt_ms(single):>5}  {single.mb:7.1f}")
    per_op = "-" if applied.ms is None else f"{applied.ms / len(ops):.2f}"
    print(f"{applied.label:<46} {fmt_ms(applied):>9} {fmt_ms(single):>9} "
          f"{'-' if r is None else f'{r:.2f}':>6} {'<= ' + str(BATCH_TARGET):>7}  "
          f"{verdict(r, BATCH_TARGET):7}  {per_op:>5}  {applied.mb:7.1f}")
    kinds: dict[str, int] = {}
    for op in ops:
        kinds[op["command"]] = kinds.get(op["command"], 0) + 1
    print("(operations: " + ", ".join(f"{v} {k}" for k, v in kinds.items()) + ")")


def calls_per_second(fn: Callable[[], int], min_time: float) -> float:
    n = 1
    while True:
        t0 = time.perf_counter()
        calls = 0
        for _ in range(n):
            calls += fn()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return calls / dt
        n = max(n * 2, int(n * min_time / max(dt, 1e-6) * 1.2))


def library_section(catalogs: list[tuple[str, Path]], min_time: float) -> None:
    from sporder_py.formats import catalog_toml
    from sporder_py.resolver import resolve
    section(f"Library: resolver calls per second (in process, >= {min_time:g} s each)")
    print(f"{'catalog':<40} {'entries':>8} {'AF_INET/TCP hit':>16} {'every triple':>13} "
          f"{'miss (full walk)':>17}")
    for name, path in catalogs:
        f, _ = catalog_toml.loads(path.read_text(encoding="utf-8"), str(path))
        cat = f.catalog(f.native)
        triples = sorted({e.triple for e in cat.protocols if e.kind != "layered"})

        def hit(cat: Catalog = cat) -> int:
            resolve(cat, 2, 1, 6)
            return 1

        def every(cat: Catalog = cat, triples: list[tuple[int, int, int]] = triples) -> int:
            for t in triples:
                resolve(cat, *t)
            return len(triples)

        def miss(cat: Catalog = cat) -> int:
            resolve(cat, 2, 1, 250)
            return 1
        rates = [calls_per_second(fn, min_time) for fn in (hit, every, miss)]
        print(f"{name:<40} {len(cat.protocols):>8,} {rates[0]:>16,.0f} {rates[1]:>13,.0f} "
              f"{rates[2]:>17,.0f}")
    print("(entries: the native catalog the resolver walks; 'every triple' cycles through the "
          "distinct triples of its non-layered entries; miss = AF_INET/SOCK_STREAM/250)")


WRAPPERS = ("runpy", "click", "<string>", "__main__.py", "cProfile.py", "profile.py")


def top_functions(prof: Path, key: str, limit: int) -> list[str]:
    """pstats rows sorted by ``key`` ("cumulative" or "tottime"), without the frames every
    command has on its stack (runpy, click's dispatch, exec): those say nothing."""
    import pstats
    stats = pstats.Stats(str(prof)).stats            # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _callers) in stats.items():
        if any(w in filename for w in WRAPPERS) or func in ("<module>", "exec", "main") \
                or "builtins.exec" in func:
            continue
        if "sporder_py" in filename:
            where = "sporder_py" + filename.split("sporder_py", 1)[1] + f":{line}"
        elif filename == "~":
            where = ""
        else:
            where = f"{Path(filename).name}:{line}"
        calls = str(nc) if nc == cc else f"{nc}/{cc}"
        rows.append((ct if key == "cumulative" else tt, calls, tt, ct, f"{where}({func})"))
    rows.sort(key=lambda r: -r[0])
    out = [f"{'ncalls':>14} {'tottime':>8} {'cumtime':>8}  function"]
    out += [f"{calls:>14} {tt:8.3f} {ct:8.3f}  {name}" for _, calls, tt, ct, name in rows[:limit]]
    return out


def profile_section(b: Bench, size: int, master: Path, meta: dict,
                    figs: dict[str, Figure]) -> None:
    timed = [(f.ms, label) for label, f in figs.items()
             if f.ms is not None and not label.startswith("floor")]
    if not timed:
        return
    _, label = max(timed)
    prof = b.work / "profile.out"
    if label in READS:
        argv, cleanup = read_argv(label, master), None
    else:
        copy = b.fresh_copy(master)
        argv, cleanup = write_argv(label, copy, meta), copy.parent
    if argv[0] == sys.executable:          # python -m sporder_py ...
        cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *argv[1:]]
    else:                                  # the console script
        cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), argv[0], *argv[1:]]
    section(f"Profile: the slowest command at {size:,} entries, '{label}' "
            "(cProfile; runpy/click/exec frames left out)")
    sample = run_child(cmd, b.env, b.work, b.args.timeout, capture=True)
    if cleanup is not None:
        shutil.rmtree(cleanup, ignore_errors=True)
    if not prof.exists():
        print(f"(profile failed: exit {sample.code}: {sample.stderr.strip()[-300:]})")
        return
    print(f"{sample.ms / 1000:.2f} s under cProfile.  Top 15 by cumulative time:")
    print("\n".join(top_functions(prof, "cumulative", 15)))
    print("Top 10 by own time:")
    print("\n".join(top_functions(prof, "tottime", 10)))


# --- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="sizes 100 and 1000 only, 3 runs (a smoke run, not figures)")
    ap.add_argument("--runs", type=int, default=None, help="timed runs per figure (default 5; "
                    "--quick 3)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help=f"catalog sizes in entries (default {' '.join(map(str, FULL_SIZES))})")
    ap.add_argument("--startup-runs", type=int, default=None,
                    help="runs for the start-up figures (default 20; --quick: --runs)")
    ap.add_argument("--batch-ops", type=int, default=1000, help="operations in the apply batch")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per command run")
    ap.add_argument("--slow", type=float, default=15.0, help="a command whose warm-up run takes "
                    "longer than this many seconds is measured by that one run")
    ap.add_argument("--seed", type=int, default=7, help="generator seed")
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile section")
    ap.add_argument("--workdir", help="where to put generated catalogs (default: a temporary "
                    "directory, removed afterwards)")
    args = ap.parse_args(argv)
    args.runs = args.runs or (3 if args.quick else 5)
    args.sizes = sorted(set(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)))
    args.startup_runs = args.startup_runs or (args.runs if args.quick else 20)

    own_work = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="sporder-bench-")) if own_work else Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        env = prepare_environment(work)
        b = Bench(args, work, env)
        import gen_catalog
        print(f"sporder benchmarks: {' '.join(sporder_cmd())}  (python {sys.version.split()[0]}, "
              f"{os.cpu_count()} CPUs, PYTHONPATH={env.get('PYTHONPATH', '(unset)')}, "
              f"PYTHONDONTWRITEBYTECODE unset)")
        print(f"sizes {', '.join(f'{n:,}' for n in args.sizes)} entries; {args.runs} runs per "
              f"figure after one discarded warm-up run; medians; load average "
              f"{os.getloadavg()[0]:.2f} at start")
        startup_section(args)

        section("Generated catalogs (bench/gen_catalog.py)")
        masters: dict[int, tuple[Path, dict]] = {}
        for n in args.sizes:
            path = work / f"catalog-{n}.toml"
            t0 = time.perf_counter()
            meta = gen_catalog.write(path, n, args.seed)
            masters[n] = (path, meta)
            print(f"{n:>7,} entries: {meta['bytes'] / 1e6:6.2f} MB, {meta['bases']:>5} bases, "
                  f"{meta['lsps']:>5} LSPs, {meta['chains']:>6} chain entries per catalog, "
                  f"{meta['distinct_triples']} triples, {meta['history']} history records "
                  f"({time.perf_counter() - t0:.1f} s)")

        results: dict[int, dict[str, Figure]] = {}
        for n in args.sizes:
            t0 = time.perf_counter()
            results[n] = measure_size(b, *masters[n], args.runs)
            print(f"measured {n:,} entries in {time.perf_counter() - t0:.0f} s", flush=True)

        scale = SCALE_SIZE if SCALE_SIZE in args.sizes else max(
            [n for n in args.sizes if n <= SCALE_SIZE] or args.sizes)
        scale_section(scale, masters[scale][1], results[scale])
        growth_section(args.sizes, results)
        batch_section(b, args)
        library_section([("default (windows-11)", ROOT / "catalogs" / "windows-11.toml"),
                         (f"generated {scale:,} entries", masters[scale][0])],
                        0.05 if args.quick else 0.5)
        if not args.no_profile:
            profile_section(b, scale, *masters[scale], results[scale])
        print()
        print(f"(load average {os.getloadavg()[0]:.2f} at the end; other work on the machine "
              "inflates wall times)")
        if b.failures:
            print()
            print("FAILED commands (their figures are meaningless):")
            for line in b.failures:
                print(f"  {line}")
            return 1
        return 0
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
