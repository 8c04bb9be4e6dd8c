"""Smoke test of the benchmarks (bench/run.py, bench/gen_catalog.py).

It runs ``bench/run.py --quick`` with the smallest size and one run per figure and checks that
every section prints its figure lines (a number, its floor, the ratio, the target) and that every
benchmarked command succeeded.  It never asserts a timing: figures depend on the machine.
The generator is checked in process: its catalogs load without warnings, ``doctor`` finds
nothing, and the mutations the benchmark times succeed on them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

NUM = r"-?\d[\d,]*(?:\.\d+)?"     # 1,413 and 4060.8


def num(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def quick_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--sizes", "100", "--runs", "1",
         "--startup-runs", "1", "--batch-ops", "20", "--workdir", str(work)],
        capture_output=True, text=True, timeout=300, cwd=work)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr[-3000:]
    return proc.stdout


def _row(out: str, label: str, numbers: int) -> list[float]:
    """The first line starting with ``label`` followed by at least ``numbers`` numbers."""
    pat = re.compile(re.escape(label) + r"\s+" + r"\s+".join([f"({NUM})"] * numbers))
    for line in out.splitlines():
        m = pat.match(line)
        if m:
            return [num(g) for g in m.groups()]
    raise AssertionError(f"no figure line for {label!r} in:\n{out}")


def test_startup_figures(quick_output: str) -> None:
    assert "Start-up" in quick_output
    for label in ("sporder resolve AF_INET SOCK_STREAM IPPROTO_TCP --json",
                  "sporder list --json"):
        ms, floor, ratio = _row(quick_output, label, 3)
        assert ms > 0 and floor > 0
        assert ratio == pytest.approx(ms / floor, abs=0.01)
        line = next(x for x in quick_output.splitlines() if x.startswith(label))
        assert "<= 1.3" in line and re.search(r"\b(ok|OVER)$", line)


def test_scale_figures(quick_output: str) -> None:
    assert re.search(r"^Scale: 100 entries \(50 per catalog", quick_output, re.M)
    for label, target in (("list --json", "1.3"),
                          ("resolve AF_INET SOCK_STREAM IPPROTO_TCP --json", "1.3"),
                          ("doctor --json", "1.3"), ("install-lsp --over-all", "1.6"),
                          ("uninstall ", "1.6"), ("move --top", "1.6")):
        line = next((x for x in quick_output.splitlines()
                     if x.startswith(label) and "|" in x), None)
        assert line is not None, f"no scale line for {label!r}:\n{quick_output}"
        left, right = line.split("|")
        ms, floor, ratio = (num(v) for v in re.findall(NUM, left[46:])[:3])
        assert ratio == pytest.approx(ms / floor, abs=0.01)
        assert f"<= {target}" in left
        peak, floor_mb, mem_ratio = (num(v) for v in re.findall(NUM, right)[:3])
        assert peak > 0 and floor_mb > 0 and mem_ratio == pytest.approx(peak / floor_mb, abs=0.02)
        assert "<= 2.0" in right


def test_growth_batch_library_profile(quick_output: str) -> None:
    assert "Growth:" in quick_output
    for label in ("floor: tomllib.load", "floor: parse+dump+fsync", "list --json",
                  "install-lsp --over-all", "move --top"):
        assert re.search(rf"^{re.escape(label)}\s+{NUM} \(\s*{NUM}\)", quick_output, re.M), label
    assert "Batch: apply of 20 operations" in quick_output
    ms, single, ratio = _row(quick_output, "apply (20 operations)", 3)
    assert ratio == pytest.approx(ms / single, abs=0.01)
    assert "Library: resolver calls per second" in quick_output
    for label in ("default (windows-11)", "generated 100 entries"):
        entries, hit, every, miss = _row(quick_output, label, 4)
        assert hit > 0 and every > 0 and miss > 0
    assert "Profile: the slowest command at 100 entries" in quick_output
    assert "Top 15 by cumulative time:" in quick_output
    assert "sporder_py/" in quick_output.split("Profile:", 1)[1]
    assert "FAILED" not in quick_output


def test_generated_catalog_is_valid_and_usable() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import gen_catalog
    finally:
        sys.path.remove(str(BENCH))
    from sporder_py import integrity
    from sporder_py.formats import catalog_toml
    from sporder_py.ops.install_lsp import Targets, install_lsp, new_guid
    from sporder_py.ops.order import move
    from sporder_py.ops.uninstall import uninstall

    f, meta = gen_catalog.generate(600, seed=3)
    again, meta2 = gen_catalog.generate(600, seed=3)
    assert again == f and meta2 == meta                     # deterministic
    text = catalog_toml.dumps(f)
    loaded, warnings = catalog_toml.loads(text, "generated")
    assert loaded == f and warnings == []
    assert meta["entries"] == 600
    assert [len(c.protocols) for c in f.catalogs.values()] == [300, 300]
    assert f.catalog("64").ids == f.catalog("32").ids
    kinds = {k: sum(e.kind == k for e in f.catalog("64").protocols)
             for k in ("base", "layered", "chain")}
    assert kinds["base"] == meta["bases"] and kinds["layered"] == meta["lsps"]
    assert kinds["chain"] == meta["chains"] and meta["max_chain"] >= 3
    # (lsp-shadowed, issue 13, is a warning the generator's random targets do produce: an LSP
    # over the 2nd copy of a base triple is never what socket() picks.)
    assert [x for x in integrity.check(f) if x.code != "lsp-shadowed"] == []
    # The mutations bench/run.py times succeed on it.
    install_lsp(f, name="Bench", path="C:\\b.dll", provider_id=new_guid(),
                targets=Targets(over_all=True), bitnesses=["64", "32"])
    lsp = meta["uninstall_lsp"]
    assert any(lsp in e.chain[1:] for e in f.catalog("64").protocols)
    after, changes = uninstall(f, entry_id=lsp, bitnesses=["64", "32"])
    assert changes and lsp not in after.catalog("64")
    moved, _ = move(f, meta["move_id"], top=True, bitness="64")
    assert moved.catalog("64").ids[0] == meta["move_id"]
