"""Argument and entry validation shared by the protocol operations, and the refusals they raise.

A refusal raises ``WinsockError`` carrying the WSAE number Windows uses for it (built by
``refuse``) before anything is changed, so a caller never sees half an operation; malformed
arguments (no catalog selected, a bitness the file does not have) raise ``UsageError`` instead.
The checks follow WSCInstallProvider(AndChains)' limits and the chain shape rules
(winsock-semantics §1.2, §4.1, §4.3).  One choice where the reference is silent: chains that
name a missing entry (orphans) are never layered over or inserted into (WSAEINVAL,
``require_intact``); uninstall them first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .. import winsock as ws
from ..errors import UsageError, WinsockError
from ..formats.catalog_toml import normalize_guid
from ..model import Bitness, Catalog, CatalogFile, ProtocolEntry
from ..names import display_name

NULL_GUID = "{00000000-0000-0000-0000-000000000000}"


def refuse(error: int, message: str) -> WinsockError:
    """The refusal for WSAE number ``error``: its code is the error's name in lower case."""
    return WinsockError(message, code=(ws.error_name(error) or "winsock-error").lower(),
                        winsock_error=error)


def describe(e: ProtocolEntry) -> str:
    """``1001 'name'``: how messages name an entry."""
    return f"{e.id} '{display_name(e.name)}'"


def id_list(ids: Iterable[int]) -> str:
    """``1001, 1002``: how messages list ids."""
    return ", ".join(str(i) for i in ids)


def selected(f: CatalogFile, bitnesses: Sequence[str]) -> list[Bitness]:
    """The catalogs an operation acts on, each once, in the order given."""
    if not bitnesses:
        raise UsageError("No catalog selected (bitness must be 64, 32 or both).",
                         code="no-catalog")
    out: list[Bitness] = []
    for b in bitnesses:
        if b not in f.catalogs:
            have = " and ".join(f"{x}-bit" for x in f.bitnesses)
            raise UsageError(f"The catalog file has no {b}-bit catalog (it has the {have} one).",
                             code="no-such-catalog")
        if b not in out:
            out.append(b)
    return out


def provider_guid(text: str) -> str:
    """§4.1/§4.3: a NULL or malformed provider GUID is an invalid argument (WSAEINVAL)."""
    g = normalize_guid(text)
    if g is None or g == NULL_GUID:
        raise refuse(ws.WSAEINVAL, f"{text!r} is not a valid provider GUID "
                     "(expected a non-null GUID like {E70F1AA0-AB8B-11CF-8CA3-00805F48A192}).")
    return g


def check_text(what: str, name: str, path: str) -> None:
    """WSCInstallProviderAndChains' limits (§4.1): name <= WSAPROTOCOL_LEN, path < MAX_PATH."""
    if len(name) > ws.WSAPROTOCOL_LEN:
        raise refuse(ws.WSAEINVAL, f"The name of {what} is {len(name)} characters long; the "
                     f"limit is WSAPROTOCOL_LEN ({ws.WSAPROTOCOL_LEN}).")
    if not path or len(path) > ws.MAX_PATH - 1:
        raise refuse(ws.WSAEINVAL, f"The DLL path of {what} is {len(path)} characters long; "
                     f"it must have 1 to {ws.MAX_PATH - 1} (MAX_PATH - 1).")
    if "\x00" in name or "\x00" in path:
        raise refuse(ws.WSAEINVAL, f"The name or DLL path of {what} contains a NUL character.")


def check_shape(n: int, e: ProtocolEntry) -> None:
    """kind follows ChainLen (§1.2): base/layered carry no chain, a chain names 2..7 ids once."""
    where = f"entry #{n} ({display_name(e.name)!r})"
    if e.kind != "chain":
        if e.chain:
            raise refuse(ws.WSAEINVAL, f"The {where} is {e.kind} but lists a chain; only chain "
                         "entries have one.")
        return
    if not 2 <= len(e.chain) <= ws.MAX_PROTOCOL_CHAIN:
        raise refuse(ws.WSAEINVAL, f"The chain of {where} has {len(e.chain)} ids; a chain "
                     f"names 2 to MAX_PROTOCOL_CHAIN ({ws.MAX_PROTOCOL_CHAIN}).")
    if len(set(e.chain)) != len(e.chain):
        raise refuse(ws.WSAEINVAL, f"The chain of {where} names the same id twice; a chain may "
                     "not contain a layer twice.")


def check_chain_refs(cat: Catalog, n: int, e: ProtocolEntry) -> None:
    """A chain can only be installed after its components (§1.2): every id exists, the last is
    a base provider, the others are layers (layered entries, or chain entries in instlsp form)."""
    where = f"entry #{n} ({display_name(e.name)!r})"
    for k, i in enumerate(e.chain):
        other = cat.get(i)
        if other is None:
            raise refuse(ws.WSAEINVAL, f"The chain of {where} names id {i}, which is not in the "
                         f"{cat.bitness}-bit catalog.")
        last = k == len(e.chain) - 1
        if last and other.kind != "base":
            raise refuse(ws.WSAEINVAL, f"The chain of {where} ends with {describe(other)}, which "
                         "is not a base provider.")
        if not last and other.kind == "base":
            raise refuse(ws.WSAEINVAL, f"The chain of {where} names base provider "
                         f"{describe(other)} before its end; only the last id is the base.")


def require_intact(cat: Catalog, e: ProtocolEntry) -> None:
    """Refuse (WSAEINVAL) to build on a chain entry that names an id the catalog lacks."""
    for i in e.chain:
        if i not in cat:
            raise refuse(ws.WSAEINVAL, f"Chain entry {describe(e)} names id {i}, which is not "
                         f"in the {cat.bitness}-bit catalog (an orphaned chain; uninstall it "
                         "first).")


def check_chain_path(cat: Catalog, n: int, e: ProtocolEntry) -> None:
    """A chain entry carries its top layer's DLL path (issue 13): ws2_32 loads the chosen
    entry's own path (ReactOS ``WsTcLoadProvider`` -> ``WsTpInitialize(DllPath)``), and the LSP
    in it finds the next layer through the chain; any other path would load another DLL."""
    if e.kind != "chain" or not e.chain:
        return
    top = cat.get(e.chain[0])
    if top is not None and top.kind == "layered" and top.path != e.path:
        raise refuse(ws.WSAEINVAL, f"The chain of entry #{n} ({display_name(e.name)!r}) starts "
                     f"with LSP {describe(top)}, whose DLL is {top.path!r}; a chain entry must "
                     f"carry its top layer's DLL path (ws2_32 loads the chosen entry's own "
                     f"path), not {e.path!r}.")
