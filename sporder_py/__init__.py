"""sporder: a model of the Winsock 2 catalog, its editors and its resolver, as a library.

The public API, for applications that want to log or warn about what hooks their sockets:

* :func:`read_live` -- this Windows machine's catalog, read-only from the registry;
* :func:`load` -- a catalog from any file sporder reads (its TOML file, netsh text, a .reg
  export, an offline SYSTEM hive, a Firefox annotation, ``list --json`` output), or ``"live"``;
* :func:`layered_over` -- the LSPs a socket of a given (family, type, protocol) passes through,
  top first, ``[]`` when it goes straight to a base provider.

Errors are :class:`SporderError` (one sentence in ``message``, a stable ``code``).  Importing
this package imports neither click nor rich; the domain modules (``model``, ``winsock``,
``resolver``, ``ops``, ``integrity``, ``formats``, ``wsk``) are a library of their own and the
``cli`` package is a thin layer over them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import SporderError

if TYPE_CHECKING:
    from .model import CatalogFile

__version__ = "0.1.0"
__all__ = ["LayeredProvider", "SporderError", "layered_over", "load", "read_live"]


class LayeredProvider:
    """One LSP a socket passes through: its name, DLL path, provider GUID and LSP categories
    (``LSP_*`` names, empty when the LSP declares none)."""

    __slots__ = ("name", "path", "provider_id", "categories")

    def __init__(self, name: str, path: str, provider_id: str,
                 categories: tuple[str, ...]) -> None:
        self.name = name
        self.path = path
        self.provider_id = provider_id
        self.categories = categories

    def __repr__(self) -> str:
        return (f"LayeredProvider(name={self.name!r}, path={self.path!r}, "
                f"provider_id={self.provider_id!r}, categories={self.categories!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayeredProvider):
            return NotImplemented
        return (self.name, self.path, self.provider_id, self.categories) == (
            other.name, other.path, other.provider_id, other.categories)

    __hash__ = None  # type: ignore[assignment]   # mutable attributes, like a plain object


def read_live() -> CatalogFile:
    """This Windows machine's catalog (``HKLM\\...\\WinSock2\\Parameters``, both catalogs and the
    namespace providers), read-only.  Elsewhere: :class:`SporderError` (one sentence)."""
    from .formats import live
    return live.read_live()[0]


def load(path: str | os.PathLike[str]) -> CatalogFile:
    """A catalog from a file in any format sporder reads (detected by content), or ``"live"``."""
    if os.fspath(path) == "live":
        return read_live()
    from .formats import detect
    from .store.reading import read_bytes
    name = os.fspath(path)
    return detect.parse(read_bytes(name, "file"), name, path=name)[0]


def layered_over(catalog_file: CatalogFile, af: int | str, type: int | str,
                 protocol: int | str, bitness: str = "64") -> list[LayeredProvider]:
    """The LSPs ``socket(af, type, protocol)`` would pass through in the catalog ``bitness``
    (``"64"`` or ``"32"``; a file with one catalog answers from it), top layer first; ``[]``
    when the socket goes straight to a base provider.  Names such as ``"AF_INET"``/``"inet"``
    are accepted as ``resolve`` takes them.  A call Windows would refuse raises
    :class:`~sporder_py.errors.WinsockError` (its WSAE number in ``winsock_error``)."""
    from . import resolver
    from . import winsock as ws
    from .errors import UsageError
    parts = []
    for what, value, parse in (("af", af, ws.parse_family),
                               ("type", type, ws.parse_socket_type),
                               ("protocol", protocol, ws.parse_protocol)):
        if isinstance(value, int) and not isinstance(value, bool):
            parts.append(value)
        elif isinstance(value, str):
            parts.append(parse(value))
        else:
            raise UsageError(f"{what} must be a name or an integer, not {value!r}.",
                             code="bad-value")
    triple = (parts[0], parts[1], parts[2])
    if str(bitness) not in ("64", "32"):
        raise UsageError(f"bitness must be \"64\" or \"32\", not {bitness!r}.",
                         code="bad-bitness")
    bitness = str(bitness)
    if bitness not in catalog_file.catalogs:     # a one-catalog file answers from that one
        bitness = catalog_file.native
    cat = catalog_file.catalog(bitness)
    res = resolver.resolve(cat, *triple)
    error = resolver.error_for(res)
    if error is not None:
        raise error
    return [LayeredProvider(e.name, e.path, e.provider_id,
                            tuple(ws.flag_names(e.lsp_categories, ws.LSP_CATEGORIES)[0]))
            for e in res.layers[:-1] if e is not None]
