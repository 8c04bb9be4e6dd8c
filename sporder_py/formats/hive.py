r"""Offline SYSTEM registry hives (a Windows image's ``Windows\System32\config\SYSTEM``).

The hive is read with ``regipy`` (optional dependency: ``pip install 'sporder[hive]'``), imported
only when a hive is read.  ``Select\Current`` names the control set (an offline hive has no
``CurrentControlSet`` link); its ``Services\WinSock2\Parameters`` subtree is copied into a
:class:`~sporder_py.formats.regfile.RegTree` and mapped to the model by the same function as a
.reg export (:func:`~sporder_py.formats.regfile.catalog_from_tree`), so both formats import
identically (see regfile.py for the mapping and its documented choices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CatalogFileError
from ..model import CatalogFile
from .regfile import RegTree, catalog_from_tree

HIVE_MAGIC = b"regf"
INSTALL_HINT = "pip install 'sporder[hive]'"


def looks_like_hive(data: bytes) -> bool:
    """True for a registry hive file (it starts with the base block signature ``regf``)."""
    return data[:4] == HIVE_MAGIC


def _copy(key: Any, rel: str, tree: RegTree) -> None:
    tree.add(rel)
    for v in list(key.iter_values(trim_values=False)):
        if isinstance(v.value, (str, int, bytes)):   # REG_SZ/EXPAND_SZ, DWORD, BINARY (raw)
            tree.set(rel, v.name, v.value)
    for sub in list(key.iter_subkeys() or ()):
        _copy(sub, f"{rel}\\{sub.name}" if rel else sub.name, tree)


def _parameters(hive: Any, source: str) -> RegTree:
    from regipy.exceptions import RegistryKeyNotFoundException
    try:
        current = hive.get_key("\\Select").get_value("Current")
    except RegistryKeyNotFoundException:
        current = None
    if not isinstance(current, int):
        raise CatalogFileError(f"{source}: the hive has no Select\\Current value; is it a "
                               "SYSTEM hive?", code="hive-not-system")
    path = f"ControlSet{current:03d}\\Services\\WinSock2\\Parameters"
    try:
        params = hive.get_key("\\" + path)
    except RegistryKeyNotFoundException:
        raise CatalogFileError(f"{source}: the hive has no {path} key (Select\\Current is "
                               f"{current}).", code="reg-no-parameters") from None
    tree = RegTree()
    _copy(params, "", tree)
    return tree


def read_hive(path: str | Path, source: str) -> tuple[CatalogFile, list[str]]:
    """An offline SYSTEM hive -> (CatalogFile, warnings), or CatalogFileError."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CatalogFileError(f"{source}: cannot be read ({exc.strerror or exc}).",
                               code="catalog-unreadable") from None
    if not looks_like_hive(head):
        raise CatalogFileError(f"{source}: is not a registry hive (it does not start with "
                               "'regf').", code="hive-invalid")
    try:
        from regipy.registry import RegistryHive
    except ImportError:
        raise CatalogFileError(f"{source}: reading a registry hive needs the regipy package; "
                               f"install it with {INSTALL_HINT}.", code="hive-unsupported") \
            from None
    try:
        tree = _parameters(RegistryHive(str(path)), source)
    except CatalogFileError:
        raise
    except Exception as exc:   # regipy raises construct, struct and its own errors on damage
        raise CatalogFileError(f"{source}: the registry hive is damaged and cannot be read "
                               f"({type(exc).__name__}).", code="hive-invalid") from None
    return catalog_from_tree(tree, source)
