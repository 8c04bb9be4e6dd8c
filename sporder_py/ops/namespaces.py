"""Namespace provider operations (winsock-semantics §6).

The Windows calls modelled: WSCInstallNameSpace(Ex) -> ``ns_install``, WSCUnInstallNameSpace ->
``ns_uninstall``, WSCEnableNSProvider -> ``ns_enable``, WSCWriteNameSpaceOrder -> ``ns_reorder``
(each with its ``...32`` twin for the WOW64 catalog).  A namespace provider is identified by its
GUID only and is never layered; its precedence is its place in the catalog.

Every operation is pure: ``(CatalogFile, ...) -> (CatalogFile, [Change])``; the input is never
modified.  Choices where the reference is silent (documented and tested):

* Several catalogs at once are all-or-nothing: every selected catalog is checked first and one
  refusal refuses the whole operation, as if each per-catalog call had to succeed.
* A provider id that is not a GUID at all is a usage error (exit 2), not a Winsock error:
  the Windows API takes a binary GUID and cannot be handed a malformed one.
* Real catalogs can list one GUID twice (the loader warns): uninstall and enable act on every
  entry with that GUID, and a new order must name it as often as the catalog holds it.
* Change actions: ``namespace-add``, ``namespace-remove``, ``namespace-update`` (field
  ``enabled``), ``namespace-move`` (field ``position``, 1-based); ``id`` is None (namespace
  providers have no catalog id) and ``detail`` holds the GUID.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence

from .. import winsock as ws
from .._record import replace
from ..errors import UsageError, WinsockError
from ..formats.catalog_toml import normalize_guid
from ..model import BITNESSES, Bitness, CatalogFile, Change, NamespaceEntry


def refusal(text: str, error: int) -> WinsockError:
    """A WinsockError whose one sentence ends with the WSAE name and number."""
    name = ws.error_name(error) or "winsock-error"
    return WinsockError(f"{text} ({name} {error}).", code=name.lower(), winsock_error=error)


def target_bitnesses(f: CatalogFile, bitnesses: Iterable[str]) -> list[Bitness]:
    """The selected catalogs in file order ("64" before "32"), each checked to exist in ``f``."""
    wanted = list(bitnesses)
    if not wanted:
        raise UsageError("No catalog was selected; choose 64, 32 or both.", code="bad-bitness")
    for b in wanted:
        if b not in BITNESSES:
            raise UsageError(f"Catalog {b!r} is not a bitness; choose 64 or 32.",
                             code="bad-bitness")
        if b not in f.catalogs:
            raise UsageError(f"The catalog file has no {b}-bit catalog.", code="no-such-catalog")
    return [b for b in f.bitnesses if b in wanted]


def guid_argument(text: str) -> str:
    """A provider GUID given by a user, normalized to ``{UPPER-CASE}``; UsageError if malformed."""
    guid = normalize_guid(text)
    if guid is None:
        raise UsageError(f"{text!r} is not a GUID like {{22059D40-7E9E-11CF-AE5A-00AA00A7112B}}.",
                         code="bad-guid")
    return guid


def _check_text(what: str, value: str, limit: int) -> None:
    """§6 WSCInstallNameSpace: WSAEINVAL for an argument Windows cannot store."""
    if len(value) > limit:
        raise refusal(f"The {what} is {len(value)} characters long; the limit is {limit}",
                      ws.WSAEINVAL)
    if "\x00" in value:
        raise refusal(f"The {what} contains a NUL character", ws.WSAEINVAL)


def _change(action: str, bitness: str, ns: NamespaceEntry,
            fields: tuple[tuple[str, object, object], ...] = ()) -> Change:
    return Change(action, bitness, None, ns.name, fields, ns.provider_id)


def _require_installed(f: CatalogFile, guid: str, targets: list[Bitness]) -> None:
    """§6: WSCUnInstallNameSpace / WSCEnableNSProvider fail with WSAEINVAL for an unknown id."""
    for b in targets:
        if not any(n.provider_id == guid for n in f.catalog(b).namespaces):
            raise refusal(f"Namespace provider {guid} is not installed in the {b}-bit catalog",
                          ws.WSAEINVAL)


def ns_install(f: CatalogFile, entry: NamespaceEntry,
               bitnesses: Sequence[str]) -> tuple[CatalogFile, list[Change]]:
    """WSCInstallNameSpace: append ``entry`` at the end of each selected namespace catalog.

    Refused with WSANO_RECOVERY ("already installed", §6) when the GUID is in any selected
    catalog, with WSAEINVAL when the name exceeds 255 characters (WSAPROTOCOL_LEN) or the path
    259 (MAX_PATH - 1) -- the limits the catalog file enforces.
    """
    targets = target_bitnesses(f, bitnesses)
    new = replace(entry, provider_id=guid_argument(entry.provider_id))
    _check_text("namespace provider name", new.name, ws.WSAPROTOCOL_LEN)
    _check_text("namespace provider path", new.path, ws.MAX_PATH - 1)
    for b in targets:
        if any(n.provider_id == new.provider_id for n in f.catalog(b).namespaces):
            raise refusal(f"Namespace provider {new.provider_id} is already installed in the "
                          f"{b}-bit catalog", ws.WSANO_RECOVERY)
    out, changes = f, []
    for b in targets:
        cat = out.catalog(b)
        out = out.with_catalog(cat.with_namespaces(cat.namespaces + (new,)))
        changes.append(_change("namespace-add", b, new))
    return out, changes


def ns_uninstall(f: CatalogFile, provider_id: str,
                 bitnesses: Sequence[str]) -> tuple[CatalogFile, list[Change]]:
    """WSCUnInstallNameSpace: remove every entry with this GUID; unknown -> WSAEINVAL (§6)."""
    targets = target_bitnesses(f, bitnesses)
    guid = guid_argument(provider_id)
    _require_installed(f, guid, targets)
    out, changes = f, []
    for b in targets:
        cat = out.catalog(b)
        changes += [_change("namespace-remove", b, n) for n in cat.namespaces
                    if n.provider_id == guid]
        out = out.with_catalog(cat.with_namespaces(
            [n for n in cat.namespaces if n.provider_id != guid]))
    return out, changes


def ns_enable(f: CatalogFile, provider_id: str, enabled: bool,
              bitnesses: Sequence[str]) -> tuple[CatalogFile, list[Change]]:
    """WSCEnableNSProvider: set fActive; unknown -> WSAEINVAL (§6); already so -> no changes."""
    targets = target_bitnesses(f, bitnesses)
    guid = guid_argument(provider_id)
    _require_installed(f, guid, targets)
    out, changes = f, []
    for b in targets:
        cat = out.catalog(b)
        updated = []
        for n in cat.namespaces:
            if n.provider_id == guid and n.enabled != enabled:
                changes.append(_change("namespace-update", b, n,
                                       (("enabled", n.enabled, enabled),)))
                n = replace(n, enabled=enabled)
            updated.append(n)
        out = out.with_catalog(cat.with_namespaces(updated))
    return (out, changes) if changes else (f, [])


def ns_reorder(f: CatalogFile, provider_ids: list[str],
               bitness: str) -> tuple[CatalogFile, list[Change]]:
    """WSCWriteNameSpaceOrder: the new order must be an exact permutation by GUID (§6, §4.4).

    Otherwise WSAEINVAL naming the unknown, missing and duplicated GUIDs; GUIDs may be given
    in any case, with or without braces.  Providers that share a GUID keep their relative order.
    """
    (b,) = target_bitnesses(f, [bitness])
    cat = f.catalog(b)
    given = [guid_argument(p) for p in provider_ids]
    have, want = Counter(n.provider_id for n in cat.namespaces), Counter(given)
    problems = [f"{label} {', '.join(guids)}" for label, guids in (
        ("unknown", [g for g in want if g not in have]),
        ("missing", [g for g in have if want[g] < have[g]]),
        ("duplicated", [g for g in want if g in have and want[g] > have[g]])) if guids]
    if problems:
        raise refusal(f"The new order is not a permutation of the {len(cat.namespaces)} "
                      f"namespace providers of the {b}-bit catalog: {'; '.join(problems)}",
                      ws.WSAEINVAL)
    slots: dict[str, deque[int]] = {}
    for i, n in enumerate(cat.namespaces):
        slots.setdefault(n.provider_id, deque()).append(i)
    order = [slots[g].popleft() for g in given]
    changes = [_change("namespace-move", b, cat.namespaces[old], (("position", old + 1, new + 1),))
               for new, old in enumerate(order) if old != new]
    if not changes:
        return f, []
    return f.with_catalog(cat.with_namespaces([cat.namespaces[i] for i in order])), changes
