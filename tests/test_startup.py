"""Rule 4 (fast start): the read path imports only click, the domain and the standard library."""

import json
import subprocess
import sys

import pytest

from conftest import CATALOGS

FORBIDDEN = ("rich", "filelock", "platformdirs", "tomlkit", "importlib.metadata",
             "importlib.resources", "regipy", "sporder_py.cli.edit", "sporder_py.cli.history",
             "sporder_py.cli.exchange", "sporder_py.cli.check", "sporder_py.cli.wsk",
             "sporder_py.cli.mutation", "sporder_py.store.transaction", "sporder_py.store.history",
             "sporder_py.wsk", "sporder_py.ops", "sporder_py.probe",
             # issue 7: ~4 ms (pathlib, with urllib.parse and ipaddress) and ~8 ms (hashlib's
             # OpenSSL) of start-up; the writer (tomli_w) is not needed to read
             "pathlib", "hashlib", "tomli_w",
             # issue 15: the views and completion load only when used
             "sporder_py.stacks", "sporder_py.report", "sporder_py.cli.view",
             "click.shell_completion")

PROBE = """
import sys, io, contextlib, json
from sporder_py.cli.app import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("args", [
    ["resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "--json"],
    ["list", "--json"], ["list"], ["show", "1001"], ["resolve", "inet", "stream", "tcp"],
    ["show", "MSAFD Tcpip [TCP/IP]"], ["resolve", "inet", "stream", "tcp", "--explain"],
])
def test_read_path_does_not_import_heavy_modules(args):
    proc = subprocess.run([sys.executable, "-c", PROBE, "--catalog",
                           str(CATALOGS / "windows-11.toml"), *args],
                          capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout)
    assert result["code"] == 0
    loaded = [m for m in result["modules"]
              if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert loaded == []
