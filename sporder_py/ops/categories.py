"""LSP categories and application categories (winsock-semantics §7, §5.5).

``set_lsp_categories`` models WSCSetProviderInfo(ProviderInfoLspCategories) on an LSP's hidden
entry (§7.2); ``app_category_*`` model WSCSetApplicationCategory / WSCGetApplicationCategory
(§7.3); ``lsp_load_report`` applies the per-process load rule (§7.4) to the layers of a resolved
socket.  All are pure; the input is never modified.  Choices where the reference is silent:

* Windows identifies the LSP by the hidden entry's GUID; the model takes a catalog id and looks
  it up in each selected catalog (a chain entry stands for its top layer, ``chain[0]``).  An id
  that is not in a selected catalog, a base provider, or a chain whose top layer is not a hidden
  entry is refused with WSAEINVAL, as the task defines (Windows' observed code for an unknown
  GUID is WSANO_RECOVERY, but an unknown *id* never reaches Windows).
* Application identity is (path compared case-insensitively, as Windows compares paths;
  arguments compared exactly).  The path is stored as first given.  An application categorized
  with value 0 is categorized: by §7.4 it loads no LSP (the reference's open question).
* Removing an application category has no Windows API; an unknown one is refused with
  WSASERVICE_NOT_FOUND, WSCGetApplicationCategory's code for "not categorized".
* Change actions: ``update`` (field ``lsp_categories``) on the hidden entry; ``app-category-add``,
  ``app-category-update``, ``app-category-remove`` with catalog "", ``name`` = the path,
  ``detail`` = the arguments and field ``categories``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import winsock as ws
from .._record import replace
from ..errors import UsageError
from ..model import AppCategory, Catalog, CatalogFile, Change, ProtocolEntry
from ..resolver import Resolution, layer_stack, lsp_loads, raise_for
from .namespaces import refusal, target_bitnesses

APP_TEXT_LIMIT = 32767      # the catalog file's limit for an application path or arguments


def _check_categories(categories: int) -> None:
    if isinstance(categories, bool) or not 0 <= categories <= ws.DWORD_MAX:
        raise UsageError(f"LSP categories {categories!r} are not a DWORD.", code="bad-value")


def hidden_entry(catalog: Catalog, entry_id: int) -> ProtocolEntry:
    """The LSP hidden (layered) entry that ``entry_id`` names: itself, or a chain's top layer."""
    where = f"the {catalog.bitness}-bit catalog"
    e = catalog.get(entry_id)
    if e is None:
        raise refusal(f"Entry {entry_id} is not in {where}", ws.WSAEINVAL)
    if e.kind == "base":
        raise refusal(f"Entry {entry_id} of {where} is a base provider, not an LSP", ws.WSAEINVAL)
    if e.kind == "chain":
        top = catalog.get(e.chain[0])
        if top is None or top.kind != "layered":
            raise refusal(f"Chain entry {entry_id} of {where} has top layer {e.chain[0]}, which "
                          "is not a hidden (layered) entry", ws.WSAEINVAL)
        return top
    return e


def set_lsp_categories(f: CatalogFile, entry_id: int, categories: int,
                       bitnesses: Sequence[str]) -> tuple[CatalogFile, list[Change]]:
    """WSCSetProviderInfo(ProviderInfoLspCategories): replace the hidden entry's categories."""
    _check_categories(categories)
    hidden = [(b, hidden_entry(f.catalog(b), entry_id)) for b in target_bitnesses(f, bitnesses)]
    out, changes = f, []
    for b, h in hidden:
        if h.lsp_categories == categories:
            continue
        cat = out.catalog(b)
        new = h.with_changes(lsp_categories=categories)
        out = out.with_catalog(cat.with_protocols([new if e.id == h.id else e
                                                   for e in cat.protocols]))
        changes.append(Change("update", b, h.id, h.name,
                              (("lsp_categories", h.lsp_categories, categories),)))
    return out, changes


def _check_app(path: str, args: str) -> None:
    if not path:
        raise refusal("The application path is empty", ws.WSAEINVAL)
    for what, value in (("application path", path), ("application arguments", args)):
        if len(value) > APP_TEXT_LIMIT or "\x00" in value:
            raise refusal(f"The {what} is longer than {APP_TEXT_LIMIT} characters or contains "
                          "a NUL character", ws.WSAEINVAL)


def _find_app(f: CatalogFile, path: str, args: str) -> int | None:
    key = path.upper()
    return next((i for i, a in enumerate(f.app_categories)
                 if a.path.upper() == key and a.args == args), None)


def _app_desc(path: str, args: str) -> str:
    return f"Application {path!r}" + (f" with arguments {args!r}" if args else "")


def app_category_get(f: CatalogFile, path: str, args: str = "") -> int | None:
    """WSCGetApplicationCategory: the permitted categories, None if not categorized (§7.3)."""
    _check_app(path, args)
    i = _find_app(f, path, args)
    return None if i is None else f.app_categories[i].categories


def app_category_set(f: CatalogFile, path: str, args: str,
                     categories: int) -> tuple[CatalogFile, list[Change]]:
    """WSCSetApplicationCategory: repeated calls for one application OR the categories (§7.3)."""
    _check_app(path, args)
    _check_categories(categories)
    apps = list(f.app_categories)
    i = _find_app(f, path, args)
    if i is None:
        apps.append(AppCategory(path, args, categories))
        change = Change("app-category-add", "", None, path, (("categories", None, categories),),
                        args)
    else:
        old = apps[i]
        if old.categories | categories == old.categories:
            return f, []
        apps[i] = AppCategory(old.path, old.args, old.categories | categories)
        change = Change("app-category-update", "", None, old.path,
                        (("categories", old.categories, apps[i].categories),), args)
    return _with_apps(f, apps), [change]


def app_category_remove(f: CatalogFile, path: str,
                        args: str = "") -> tuple[CatalogFile, list[Change]]:
    """Forget an application's categories; unknown -> WSASERVICE_NOT_FOUND (§7.3)."""
    _check_app(path, args)
    i = _find_app(f, path, args)
    if i is None:
        raise refusal(f"{_app_desc(path, args)} is not categorized",
                      ws.WSA_ERRORS["WSASERVICE_NOT_FOUND"])
    old = f.app_categories[i]
    apps = f.app_categories[:i] + f.app_categories[i + 1:]
    return _with_apps(f, apps), [Change("app-category-remove", "", None, old.path,
                                        (("categories", old.categories, None),), old.args)]


def _with_apps(f: CatalogFile, apps: list[AppCategory] | tuple[AppCategory, ...]) -> CatalogFile:
    return replace(f, app_categories=tuple(apps))


def lsp_load_report(f: CatalogFile, catalog: Catalog, resolution: Resolution, path: str,
                    args: str = "") -> list[tuple[ProtocolEntry | None, int, bool]]:
    """For each layer of the resolved entry (top layer first, base provider last): the entry,
    its LSP categories and whether it loads into the application ``(path, args)`` (§7.4).

    Layers are read from ``catalog`` (the catalog ``resolution`` was made against).  Hidden
    (layered) entries follow ``resolver.lsp_loads``; the base provider always loads; a chain id
    naming no entry (an orphan) is reported as ``(None, 0, False)``.  A failed resolution raises
    its WinsockError.
    """
    raise_for(resolution)
    assert resolution.entry is not None
    app = app_category_get(f, path, args)
    report: list[tuple[ProtocolEntry | None, int, bool]] = []
    for layer in layer_stack(catalog, resolution.entry):
        if layer is None:
            report.append((None, 0, False))
        else:
            loads = lsp_loads(app, layer.lsp_categories) if layer.kind == "layered" else True
            report.append((layer, layer.lsp_categories, loads))
    return report
