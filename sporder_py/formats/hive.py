r"""Offline SYSTEM registry hives (a Windows image's ``Windows\System32\config\SYSTEM``).

The hive is read with ``regipy`` (optional dependency: ``pip install 'sporder[hive]'``), imported
only when a hive is read.  ``Select\Current`` names the control set (an offline hive has no
``CurrentControlSet`` link: the kernel creates that link at boot from ``Select\Current``), or
the caller names one (``control_set=N`` -> ``ControlSet00N``); its
``Services\WinSock2\Parameters`` subtree is copied into a
:class:`~sporder_py.formats.registry.RegTree` and mapped to the model by the same function as a
.reg export (:func:`~sporder_py.formats.registry.catalog_from_tree`), so both formats import
identically (see regfile.py for the mapping and its documented choices).

:func:`read_hive` keeps the ``(CatalogFile, warnings)`` shape every format reader has;
:func:`read_hive_catalog` returns a :class:`HiveCatalog` that also says which control set was
read (for a CLI to print) and carries the raw subtree and the namespace catalog's own
``Serial_Access_Num`` (the model keeps one serial), which the hive writer needs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CatalogFileError, UsageError
from ..model import CatalogFile
from .registry import NAMESPACE_CATALOG, PARAMETERS, RegTree, catalog_from_tree

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


@dataclass(frozen=True)
class HiveCatalog:
    r"""What :func:`read_hive_catalog` read from one control set of a SYSTEM hive."""

    file: CatalogFile
    warnings: list[str]
    control_set: int                 # N of ControlSet00N
    chosen_by: str                   # "Select\Current" or "the caller"
    tree: RegTree                    # the raw Services\WinSock2\Parameters subtree
    namespace_serial: int | None     # NameSpace_Catalog5\Serial_Access_Num (None when absent)

    @property
    def key(self) -> str:
        r"""``ControlSet00N\Services\WinSock2\Parameters``: the key that was read."""
        return control_set_key(self.control_set) + "\\" + PARAMETERS


def control_set_key(n: int) -> str:
    """``ControlSet001`` for 1: the ``%03d`` name Windows gives control sets."""
    return f"ControlSet{n:03d}"


def check_control_set(control_set: object) -> int | None:
    """None, or an int 1..999 (a control set number); UsageError naming anything else."""
    if control_set is None:
        return None
    if isinstance(control_set, bool) or not isinstance(control_set, int) \
            or not 1 <= control_set <= 999:
        raise UsageError(f"the control set {control_set!r} is not valid: it must be a number "
                         "from 1 to 999 (ControlSet001 is 1).", code="bad-control-set")
    return control_set


def _parameters(hive: Any, source: str,
                control_set: int | None) -> tuple[RegTree, int, str]:
    from regipy.exceptions import RegistryKeyNotFoundException
    if control_set is None:
        try:
            current = hive.get_key("\\Select").get_value("Current")
        except RegistryKeyNotFoundException:
            current = None
        if not isinstance(current, int):
            raise CatalogFileError(f"{source}: the hive has no Select\\Current value; is it a "
                                   "SYSTEM hive?", code="hive-not-system")
        if not 1 <= current <= 999:
            raise CatalogFileError(f"{source}: the hive's Select\\Current value is {current}, "
                                   "not a control set number (1 to 999).",
                                   code="hive-not-system")
        chosen_by = "Select\\Current"
    else:
        current, chosen_by = control_set, "the caller"
    path = f"{control_set_key(current)}\\{PARAMETERS}"
    why = ("named by Select\\Current" if control_set is None else "requested")
    try:
        hive.get_key("\\" + control_set_key(current))
    except RegistryKeyNotFoundException:
        raise CatalogFileError(f"{source}: the hive has no {path} key: control set {current} "
                               f"({why}) does not exist.", code="hive-no-control-set") from None
    try:
        params = hive.get_key("\\" + path)
    except RegistryKeyNotFoundException:
        raise CatalogFileError(f"{source}: the hive has no {path} key (control set {current}, "
                               f"{why}).", code="reg-no-parameters") from None
    tree = RegTree()
    _copy(params, "", tree)
    return tree, current, chosen_by


def read_hive_catalog(path: str | Path, source: str,
                      control_set: int | None = None) -> HiveCatalog:
    r"""An offline SYSTEM hive -> :class:`HiveCatalog`, or CatalogFileError (one sentence).

    ``control_set`` None reads the control set ``Select\Current`` names (what Windows boots);
    N reads ``ControlSet00N`` (1..999, else UsageError).  A missing control set, a missing
    ``Services\WinSock2\Parameters`` key or one without catalog keys is a CatalogFileError
    naming ``source`` and the key.
    """
    control_set = check_control_set(control_set)
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
        # regipy logs its own lines about damage; sporder says it in one sentence instead
        # (issue 12, item 14), so the library's logging is silenced.
        logging.getLogger("regipy").setLevel(logging.CRITICAL + 1)
    except ImportError:
        raise CatalogFileError(f"{source}: reading a registry hive needs the regipy package; "
                               f"install it with {INSTALL_HINT}.", code="hive-unsupported") \
            from None
    try:
        hive = RegistryHive(str(path))  # type: ignore[no-untyped-call]
        tree, current, chosen_by = _parameters(hive, source, control_set)
    except CatalogFileError:
        raise
    except Exception as exc:   # regipy raises construct, struct and its own errors on damage
        raise CatalogFileError(f"{source}: the registry hive is damaged and cannot be read "
                               f"({type(exc).__name__}).", code="hive-invalid") from None
    f, warnings = catalog_from_tree(tree, f"{source} ({control_set_key(current)})")
    ns_serial = tree.values(NAMESPACE_CATALOG).get("serial_access_num")
    return HiveCatalog(f, warnings, current, chosen_by, tree,
                       ns_serial if isinstance(ns_serial, int) else None)


def read_hive(path: str | Path, source: str,
              control_set: int | None = None) -> tuple[CatalogFile, list[str]]:
    r"""An offline SYSTEM hive -> (CatalogFile, warnings), or CatalogFileError.

    The control set is ``Select\Current``'s unless ``control_set`` names one (1..999); use
    :func:`read_hive_catalog` to learn which one was read.
    """
    got = read_hive_catalog(path, source, control_set)
    return got.file, got.warnings
