"""The child of the pseudo-terminal tests in test_render.py: prints the shipped windows-11 catalog
(plus an entry and a namespace provider with 255-character names) through ``render.table``, as
``sporder list`` does on a terminal.  Run as ``python render_pty_child.py``; the rows are also
imported by the test to know what to look for."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from sporder_py import render as R
from sporder_py import winsock as ws
from sporder_py.formats import catalog_toml
from sporder_py.model import Catalog

CATALOG = Path(__file__).resolve().parent.parent / "catalogs" / "windows-11.toml"
LONG_NAME = "Contoso Packet Inspector " + "Q" * 230          # 255 characters
LONG_NS_NAME = "Contoso Name Resolver " + "W" * 233           # 255 characters
NAMESPACE_HEADERS = ["POS", "PROVIDER ID", "NAME", "NAMESPACE", "ENABLED", "PATH"]
ENTRIES_MARK = "=== entries ==="
NAMESPACES_MARK = "=== namespaces ==="
END_MARK = "=== end ==="


def catalog() -> Catalog:
    f = catalog_toml.loads(CATALOG.read_text(encoding="utf-8"), "windows-11")[0]
    return f.catalog(f.bitnesses[0])


def entry_rows() -> list[list[object]]:
    cat = catalog()
    rows = [R.entry_row(i, e) for i, e in enumerate(cat.protocols, 1)]
    long = dataclasses.replace(cat.protocols[0], id=1099, name=LONG_NAME)
    rows.append(R.entry_row(len(rows) + 1, long))
    return rows


def namespace_rows() -> list[list[object]]:
    cat = catalog()
    rows: list[list[object]] = [
        [i, n.provider_id, n.name, R.sym(ws.namespace_name(n.namespace), n.namespace),
         "yes" if n.enabled else "no", n.path] for i, n in enumerate(cat.namespaces, 1)]
    rows.append([len(rows) + 1, "{0F6C5C7D-8E2B-4C1A-9D3E-5B6A7C8D9E0F}", LONG_NS_NAME,
                 "NS_DNS", "yes", "%SystemRoot%\\system32\\contoso\\" + "resolver" * 8 + ".dll"])
    return rows


def main() -> None:
    assert sys.stdout.isatty(), "the pty tests need a terminal on stdout"
    print(ENTRIES_MARK, flush=True)
    R.table(R.ENTRY_HEADERS, entry_rows(), "Winsock catalog (64-bit)", drop=R.ENTRY_DROP)
    print(NAMESPACES_MARK, flush=True)
    R.table(NAMESPACE_HEADERS, namespace_rows(), "Namespace providers (64-bit)")
    print(END_MARK, flush=True)


if __name__ == "__main__":
    main()
