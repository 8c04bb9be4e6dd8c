"""Shared fixtures: an isolated environment (never the real home), the shipped catalogs, and a
way to run the real CLI in-process (fast) or as a subprocess (exact)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "catalogs"
TESTDATA = ROOT / "tests" / "data"     # real captured Windows data, inside the repository


@pytest.fixture(autouse=True)
def isolation(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("SPORDER_CATALOG", raising=False)
    monkeypatch.delenv("SPORDER_LOCK_TIMEOUT", raising=False)
    return home


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:
        import json
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``sporder ARGS`` in this process; returns exit code, stdout, stderr."""
    from sporder_py.cli.app import main

    def run(*args: object) -> Run:
        argv = [str(a) for a in args]
        old = sys.argv
        sys.argv = ["sporder", *argv]
        try:
            code = main(argv)
        finally:
            sys.argv = old
        cap = capsys.readouterr()
        return Run(code, cap.out, cap.err)
    return run


def sporder_cmd() -> list[str]:
    script = Path(sys.executable).with_name("sporder")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sporder_py"]


def run_sub(*args: object, input: bytes | None = None, env: dict | None = None,
            timeout: float = 60) -> Run:
    """Run the real console script in a subprocess."""
    proc = subprocess.run([*sporder_cmd(), *map(str, args)], input=input, capture_output=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"),
               proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    """A writable copy of the shipped windows-11 catalog (comments and all)."""
    dest = tmp_path / "catalog.toml"
    shutil.copy(CATALOGS / "windows-11.toml", dest)
    return dest


def load_shipped(name: str = "windows-11"):
    from sporder_py.formats import catalog_toml
    return catalog_toml.loads((CATALOGS / f"{name}.toml").read_text(encoding="utf-8"), name)[0]


@pytest.fixture(scope="session")
def real_hive(tmp_path_factory: pytest.TempPathFactory):
    """A real SYSTEM hive of tests/data/hives by name, decompressed once per session into a
    temporary directory (never into the tree); tests that write copy it first."""
    import lzma
    pytest.importorskip("regipy", reason="regipy is not installed (pip install 'sporder[hive]')")
    folder = tmp_path_factory.mktemp("real-hives")

    def get(name: str) -> Path:
        dest = folder / name
        if not dest.exists():
            dest.write_bytes(lzma.decompress((TESTDATA / "hives" / f"{name}.xz").read_bytes()))
            dest.chmod(0o444)
        return dest
    return get
