"""Rule 7: every command and long option is in README, `--help` and man/sporder.1."""

import re
import shutil
import subprocess

import click
import pytest

from conftest import ROOT
from sporder_py.cli.app import all_commands, cli

MAN = (ROOT / "man" / "sporder.1").read_text(encoding="utf-8")
MAN5 = (ROOT / "man" / "sporder-catalog.5").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def walk(commands: dict[str, click.Command], prefix: str = ""):
    for name, cmd in sorted(commands.items()):
        path = f"{prefix}{name}"
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd.commands, path + " ")


COMMANDS = list(walk(all_commands()))


def man_text(text: str) -> str:
    """Troff source as a reader sees it: escaped hyphens as hyphens, fonts removed."""
    return re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-").replace("\\(em", "-")


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help_and_is_documented(path, cmd):
    assert (cmd.help or "").strip(), f"{path} has no help text"
    assert f"sporder {path}" in man_text(MAN), f"man/sporder.1 lacks 'sporder {path}'"
    assert f"sporder {path}" in README, f"README lacks 'sporder {path}'"


OPTIONS = sorted({(path, opt) for path, cmd in COMMANDS for p in cmd.params
                  if isinstance(p, click.Option) for opt in p.opts if opt.startswith("--")}
                 | {("", o) for p in cli.params if isinstance(p, click.Option)
                    for o in p.opts if o.startswith("--")})


@pytest.mark.parametrize("path,opt", OPTIONS, ids=[f"{p}:{o}" for p, o in OPTIONS])
def test_every_long_option_is_in_the_man_page(path, opt):
    assert opt in man_text(MAN), f"man/sporder.1 lacks {opt} (of '{path or 'sporder'}')"


def _environment_variables() -> list[str]:
    """Every SPORDER_* variable the code reads (os.environ or a click envvar)."""
    names: set[str] = set()
    for src in (ROOT / "sporder_py").rglob("*.py"):
        text = src.read_text(encoding="utf-8")
        names |= set(re.findall(r'environ(?:\.get)?[(\[]\s*"(SPORDER_[A-Z_]+)"', text))
        names |= set(re.findall(r'envvar="(SPORDER_[A-Z_]+)"', text))
    return sorted(names)


ENVIRONMENT = _environment_variables()


@pytest.mark.parametrize("name", ENVIRONMENT)
def test_every_environment_variable_is_documented(name):
    section = MAN.split(".SH ENVIRONMENT", 1)[1].split(".SH ", 1)[0]
    assert f".B {name}" in section, f"man/sporder.1 ENVIRONMENT lacks {name}"
    assert name in README, f"README lacks {name}"


def test_environment_variables_were_found():
    assert {"SPORDER_CATALOG", "SPORDER_LOCK_TIMEOUT"} <= set(ENVIRONMENT)


def test_man_pages_have_the_contract_sections():
    for section in ("EXIT STATUS", "FILES", "ENVIRONMENT", "EXAMPLES", "SEE ALSO"):
        assert f".SH {section}" in MAN
    assert ".SH DESCRIPTION" in MAN5 and "next_entry_id" in MAN5


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_man_pages_lint_clean_with_groff():
    for page in ("sporder.1", "sporder-catalog.5"):
        proc = subprocess.run(["groff", "-man", "-ww", "-z", str(ROOT / "man" / page)],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_readme_quick_start_is_exactly_two_command_lines():
    block = README.split("## Quick start", 1)[1].split("```", 2)[1]
    lines = [line for line in block.splitlines()[1:] if line.strip()]
    assert len(lines) == 2
    assert "pip install" in lines[0] and "sporder list" in lines[0]
    assert "pytest" in lines[1]


def test_man_pages_are_installed_with_the_wheel_and_man_finds_them():
    import os
    import sys
    from pathlib import Path

    import sporder_py
    if Path(sporder_py.__file__).resolve().parent.parent == ROOT:
        pytest.skip("running from the source tree, not an installed wheel")
    page = Path(sys.prefix) / "share" / "man" / "man1" / "sporder.1"
    assert page.is_file() and (Path(sys.prefix) / "share/man/man5/sporder-catalog.5").is_file()
    if shutil.which("man"):
        manpath = str(Path(sys.prefix) / "share" / "man")
        found = subprocess.run(["man", "-w", "sporder"], capture_output=True, text=True,
                               env={**os.environ, "MANPATH": manpath})
        assert found.returncode == 0 and found.stdout.strip() == str(page)
