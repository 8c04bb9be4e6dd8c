"""Which format a catalog file is in, decided from its content, and parsing it.

Formats: ``toml`` (sporder's own file), ``json`` (a ``list --json`` document), ``netsh``
(``netsh winsock show catalog`` text), ``reg`` (a regedit export of WinSock2\\Parameters),
``hive`` (an offline SYSTEM registry hive), ``firefox`` (a ``Winsock_LSP`` crash annotation).
Each reader is imported only when its format is used.
"""

from __future__ import annotations

import functools
import os
import re

from ..errors import CatalogFileError, UsageError
from ..model import CatalogFile

FORMATS = ("toml", "json", "netsh", "reg", "hive", "firefox")
_NETSH_TITLES = ("Winsock Catalog Provider Entry", "Winsock 目录提供程序项",
                 "Name Space Provider Entry")


@functools.cache
def _netsh_title() -> re.Pattern[str]:
    """A netsh block title alone on its line, then its rule of dashes (a TOML value never is)."""
    return re.compile(r"^[ \t]*(" + "|".join(_NETSH_TITLES) + r")[ \t]*\r?\n[ \t]*-{10,}",
                      re.MULTILINE)


def _text(data: bytes) -> str | None:
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                     (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(enc)
            except UnicodeDecodeError:
                return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def sniff(data: bytes) -> str | None:
    if data[:4] == b"regf":
        return "hive"
    text = _text(data)
    if text is None:
        return "toml"  # undecodable bytes: the TOML reader says where the bad byte is
    head = text.lstrip()
    if head.startswith(("Windows Registry Editor", "REGEDIT4")):
        return "reg"
    if head.startswith("{"):
        return "json"
    if head.startswith("["):
        # A TOML table header is "[name]" or "[[name]]"; a JSON array holds a value: a bracket,
        # a brace, a string, a number or a literal after its opening brackets.
        rest = head.lstrip("[ \t\r\n")
        if rest[:1] in ("", "{", "]", '"', "-") or rest[:1].isdigit() or re.match(
                r"(true|false|null)\s*[,\]]", rest):
            return "json"
    # The substring test first: compiling and running the title pattern on every TOML read costs
    # start-up time (rule 6); only text that names a netsh block title pays for the pattern.
    if any(title in text for title in _NETSH_TITLES) and _netsh_title().search(text):
        return "netsh"
    if head.startswith("Winsock_LSP"):
        return "firefox"
    if head.startswith("# Winsock catalog report"):
        return "report"       # a 'sporder report' whose catalog could not be embedded
    return "toml"      # any other text: the TOML reader names what is wrong with it


def parse(data: bytes, source: str, *, fmt: str | None = None,
          path: str | os.PathLike[str] | None = None,
          partial: bool = False,
          control_set: int | None = None) -> tuple[CatalogFile, list[str], str]:
    """Parse ``data`` in format ``fmt`` (detected when None); returns (file, warnings, format).

    ``control_set`` picks ``ControlSet00N`` of a SYSTEM hive (default ``Select\\Current``; to
    learn which was read, use ``hive.read_hive_catalog``); other formats refuse it (UsageError).
    """
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)}).",
                         code="bad-format")
    found = fmt or sniff(data)
    if found is None:
        raise CatalogFileError(f"{source}: not a catalog in any format sporder reads (TOML, "
                               "netsh text, .reg, SYSTEM hive, Firefox annotation, JSON).",
                               code="catalog-unknown-format")
    if found == "report":
        raise CatalogFileError(f"{source}: this 'sporder report' carries no netsh catalog to "
                               "read (its 'Not included' line says why); import the catalog "
                               "itself.", code="catalog-unknown-format")
    if control_set is not None and found != "hive":
        raise UsageError(f"{source}: a control set can only be chosen for a SYSTEM hive, and "
                         f"this file is {found}.", code="bad-control-set")
    if found == "toml":
        from .catalog_toml import decode
        f, warnings = decode(data, source)
    elif found == "json":
        from . import jsondoc
        f, warnings = jsondoc.parse_list_json(_require_text(data, source), source)
    elif found == "netsh":
        from . import netsh
        f, warnings = netsh.parse_netsh(_require_text(data, source), source, partial=partial)
    elif found == "firefox":
        from . import firefox
        f, warnings = firefox.parse_firefox(_require_text(data, source), source)
    elif found == "reg":
        from . import regfile
        f, warnings = regfile.parse_reg(data, source)
    else:
        from . import hive
        if path is None:
            raise CatalogFileError(f"{source}: a registry hive must be read from a file.",
                                   code="catalog-invalid")
        f, warnings = hive.read_hive(os.fspath(path), source, control_set)
    return f, warnings, found


def _require_text(data: bytes, source: str) -> str:
    text = _text(data)
    if text is None:
        raise CatalogFileError(f"{source}: not UTF-8 or UTF-16 text.", code="catalog-syntax")
    if "\x00" in text:
        raise CatalogFileError(f"{source}: contains a NUL character.", code="catalog-syntax")
    return text
