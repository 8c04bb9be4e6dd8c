"""PackedCatalogItem: the registry blob of one protocol catalog entry (winsock-semantics §5.3).

Layout: ``char szLibraryPath[260]`` (the provider DLL path, ANSI, NUL-terminated, stored
unexpanded) followed by the 628-byte ``WSAPROTOCOL_INFOW`` of §1.1, little-endian.  Windows
writes either the bare 888-byte form or 888 bytes plus a 128-byte all-zero trailer (1016 bytes,
observed on a Server 2025-era capture); ReactOS' reader accepts any value of at least 888 bytes.

Choices where the reference leaves a fact open (§8 item 4):

* The path is "ANSI/CP_ACP"; the code page of the writing system is unknown, so it is read and
  written as **cp1252** (Western European, the ANSI code page of English and most European
  installs).  Bytes that cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) refuse the blob
  rather than guess, so that every decoded path encodes back to the same bytes.  Whatever follows
  the path's NUL terminator (real hives keep stale bytes there) is not kept.
* Decoding accepts any size >= 888.  The 888 and 1016-byte forms decode silently; any other size,
  or a trailer that is not all zero, decodes the first 888 bytes and adds a warning (when the caller
  passes a ``warnings`` list) saying the rest is not kept.
* Encoding always writes the 1016-byte form with a zero trailer; base and layered entries get
  zero ChainEntries (what the real captures store; the reader ignores them, §1.2).
"""

from __future__ import annotations

import struct
import uuid

from .. import winsock as ws
from ..errors import CatalogFileError
from ..model import ProtocolEntry, kind_for_chain_len

PATH_SIZE = 260                      # MAX_PATH chars of the ANSI path
INFO_SIZE = 628                      # sizeof(WSAPROTOCOL_INFOW), §1.1
PACKED_MIN = PATH_SIZE + INFO_SIZE   # 888
TRAILER_SIZE = 128
PACKED_SIZE = PACKED_MIN + TRAILER_SIZE   # 1016, the form encode_packed writes
PATH_ENCODING = "cp1252"

# WSAPROTOCOL_INFOW up to szProtocol (offsets of §1.1): dwServiceFlags1..4, dwProviderFlags,
# ProviderId (16 bytes), dwCatalogEntryId, ChainLen, ChainEntries[7], then iVersion,
# iAddressFamily, iMaxSockAddr, iMinSockAddr, iSocketType, iProtocol, iProtocolMaxOffset,
# iNetworkByteOrder, iSecurityScheme (ints), dwMessageSize, dwProviderReserved (DWORDs).
_INFO = struct.Struct("<5I16sIi7I9i2I")
_NAME_CHARS = 256                    # WCHAR szProtocol[WSAPROTOCOL_LEN + 1]
assert _INFO.size + 2 * _NAME_CHARS == INFO_SIZE


def guid_from_bytes(raw: bytes) -> str:
    """A 16-byte GUID (Data1..3 little-endian, as Windows stores it) -> ``{UPPER-CASE}``."""
    return "{" + str(uuid.UUID(bytes_le=raw)).upper() + "}"


def guid_to_bytes(guid: str) -> bytes:
    """``{E70F1AA0-...}`` -> the 16 bytes Windows stores; ValueError when malformed."""
    return uuid.UUID(guid).bytes_le


def decode_packed(blob: bytes, where: str, warnings: list[str] | None = None) -> ProtocolEntry:
    """Decode one PackedCatalogItem value; ``where`` names it in errors and warnings."""
    size = len(blob)
    if size < PACKED_MIN:
        raise CatalogFileError(
            f"{where}: PackedCatalogItem is {size} bytes; at least {PACKED_MIN} are needed "
            f"(a {PATH_SIZE}-byte path and a {INFO_SIZE}-byte WSAPROTOCOL_INFOW).",
            code="packed-size")
    if warnings is not None and (size not in (PACKED_MIN, PACKED_SIZE) or any(blob[PACKED_MIN:])):
        warnings.append(f"{where}: PackedCatalogItem is {size} bytes with bytes after offset "
                        f"{PACKED_MIN} that are not kept (only the {PACKED_MIN}-byte item and a "
                        "zero trailer are understood).")
    raw_path = blob[:PATH_SIZE]
    end = raw_path.find(b"\0")
    if end < 0:
        raise CatalogFileError(f"{where}: the DLL path has no NUL terminator within its "
                               f"{PATH_SIZE} bytes.", code="packed-path")
    try:
        path = raw_path[:end].decode(PATH_ENCODING)
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"{where}: the DLL path has byte 0x{raw_path[exc.start]:02x} at "
                               f"offset {exc.start}, which is not a {PATH_ENCODING} character.",
                               code="packed-path") from None
    (svc1, svc2, svc3, svc4, pfl, guid, entry_id, chain_len, *rest) = _INFO.unpack_from(
        blob, PATH_SIZE)
    chain_entries, ints = rest[:ws.MAX_PROTOCOL_CHAIN], rest[ws.MAX_PROTOCOL_CHAIN:]
    (version, family, max_addr, min_addr, socket_type, protocol, max_offset, byte_order,
     security, message_size, reserved) = ints
    if entry_id == 0:
        # ws2_32 hands out ids from Next_Catalog_Entry_ID (>= 1001); an id of 0 is an
        # all-zero or damaged blob, not an entry (issue 12, item 14).
        raise CatalogFileError(f"{where}: PackedCatalogItem has catalog entry id 0 (an empty or "
                               "damaged entry).", code="packed-no-id")
    if not 0 <= chain_len <= ws.MAX_PROTOCOL_CHAIN:
        raise CatalogFileError(f"{where}: ProtocolChain.ChainLen is {chain_len}; it must be 0 "
                               f"(layered), 1 (base) or 2..{ws.MAX_PROTOCOL_CHAIN} (chain).",
                               code="packed-chain")
    kind = kind_for_chain_len(chain_len)
    name_raw = blob[PATH_SIZE + _INFO.size:PACKED_MIN]
    name_end = next((i for i in range(0, len(name_raw), 2) if name_raw[i:i + 2] == b"\0\0"), -1)
    if name_end < 0:
        raise CatalogFileError(f"{where}: szProtocol has no NUL terminator within its "
                               f"{_NAME_CHARS} characters.", code="packed-name")
    try:
        name = name_raw[:name_end].decode("utf-16-le")
    except UnicodeDecodeError:
        raise CatalogFileError(f"{where}: szProtocol is not valid UTF-16 text.",
                               code="packed-name") from None
    return ProtocolEntry(
        id=entry_id, kind=kind, name=name,
        provider_id=guid_from_bytes(guid),
        path=path, family=family, socket_type=socket_type, protocol=protocol,
        protocol_max_offset=max_offset, min_address_length=min_addr,
        max_address_length=max_addr, service_flags=svc1, provider_flags=pfl,
        chain=tuple(chain_entries[:chain_len]) if kind == "chain" else (),
        version=version, byte_order=byte_order, security_scheme=security,
        message_size=message_size, provider_reserved=reserved,
        service_flags2=svc2, service_flags3=svc3, service_flags4=svc4)


def encode_packed(e: ProtocolEntry) -> bytes:
    """The 1016-byte PackedCatalogItem of an entry (888 bytes + 128 zero bytes).

    Refuses (CatalogFileError naming the entry) what the blob cannot hold: a path that is not
    cp1252 text or is longer than 259 bytes, a name over 255 characters (never truncated), a NUL
    in either, a chain over 7 ids, a value outside its C type, a malformed GUID.
    """
    who = f"entry {e.id} ({e.name[:60]!r})"

    def refuse(detail: str) -> CatalogFileError:
        return CatalogFileError(f"{who} cannot be written as a PackedCatalogItem: {detail}",
                                code="packed-unencodable")

    try:
        path = e.path.encode(PATH_ENCODING)
    except UnicodeEncodeError as exc:
        raise refuse(f"its path contains {e.path[exc.start]!r}, which has no "
                     f"{PATH_ENCODING} (ANSI) byte.") from None
    if len(path) >= PATH_SIZE or b"\0" in path:
        raise refuse(f"its path must be at most {PATH_SIZE - 1} bytes without NUL "
                     f"(it is {len(path)}).")
    if len(e.name) > ws.WSAPROTOCOL_LEN or "\0" in e.name:
        raise refuse(f"its name must be at most {ws.WSAPROTOCOL_LEN} characters without NUL "
                     f"(it is {len(e.name)}).")
    try:
        name = e.name.encode("utf-16-le")
    except UnicodeEncodeError:
        raise refuse("its name is not valid Unicode text.") from None
    if len(name) > 2 * ws.WSAPROTOCOL_LEN:
        raise refuse(f"its name needs more than {ws.WSAPROTOCOL_LEN} UTF-16 code units.")
    chain = e.chain if e.kind == "chain" else ()
    if e.kind == "chain" and not 2 <= len(chain) <= ws.MAX_PROTOCOL_CHAIN:
        raise refuse(f"its chain has {len(chain)} ids (2..{ws.MAX_PROTOCOL_CHAIN} allowed).")
    try:
        guid = guid_to_bytes(e.provider_id)
    except ValueError:
        raise refuse(f"{e.provider_id!r} is not a GUID.") from None
    try:
        info = _INFO.pack(
            e.service_flags, e.service_flags2, e.service_flags3, e.service_flags4,
            e.provider_flags, guid, e.id, e.chain_len,
            *chain, *([0] * (ws.MAX_PROTOCOL_CHAIN - len(chain))),
            e.version, e.family, e.max_address_length, e.min_address_length, e.socket_type,
            e.protocol, e.protocol_max_offset, e.byte_order, e.security_scheme,
            e.message_size, e.provider_reserved)
    except struct.error:
        raise refuse("a numeric field is outside the range of its C type (int or DWORD).") \
            from None
    return (path.ljust(PATH_SIZE, b"\0") + info + name.ljust(2 * _NAME_CHARS, b"\0")
            + bytes(TRAILER_SIZE))
