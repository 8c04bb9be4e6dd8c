"""`netsh winsock show catalog` text: reader and writer (netsh-format.md).

Reading (``parse_netsh``) accepts what real listings look like: console noise before the first
block (version banner, copyright line, prompt, the bare command) is skipped; blocks are separated
by one or more blank lines; a field line is "label, colon, run of spaces, value", never a fixed
column, so English and Simplified Chinese (zh-CN) listings both read (CJK padding differs per
label); CR LF line ends and a UTF-8 byte-order mark are accepted.  White space is removed from
both ends of every line: netsh never ends a line with one (pasted sessions often do) nor starts
one with it (forum quotes indent every line by a few spaces or a tab), so a description that
really ends in spaces loses them; leading spaces of a value are padding and are dropped too.

Choices where the reference is silent (each is tested):

* **Bitness.** Entries whose Entry Type ends in ``(32)`` (``Base Service Provider (32)``, zh-CN
  ``基本服务提供程序(32)``) form the ``"32"`` catalog; the others form ``"64"``.  A listing with no
  ``(32)`` entry at all (a 32-bit Windows, or a pasted excerpt) is read as the native ``"64"``
  catalog only.  Ids repeat across the two catalogs (netsh-format.md), so they are checked per
  catalog.
* **Namespaces.** Namespace blocks belong to the native catalog and are copied into the 32-bit
  catalog when there is one (the namespace catalogs of both bitnesses hold the same providers,
  default-catalogs.md §4).  A listing that prints the same providers twice in the same order
  ("the same five again", default-catalogs.md §0.1 W11D) gives the first copy to the native
  catalog and the second to the 32-bit one.
* **Entry Type** only decides the bitness: the kind comes from Protocol Chain Length (0 layered,
  1 base, 2..7 chain; winsock-semantics §1.2).  A known type that contradicts the length is an
  error; an unknown type text (a translation the reference does not give) is accepted.
* **Unknown blocks.** A title the parser does not know followed by a dash rule (for instance a
  localized namespace block: the reference gives no zh-CN namespace labels) is skipped with a
  warning; any other unexpected line is an error naming its line.
* **Fields netsh does not print** -- iProtocolMaxOffset, dwProviderFlags (so PFL_HIDDEN and
  PFL_MATCHES_PROTOCOL_ZERO are lost), dwMessageSize, iNetworkByteOrder, iSecurityScheme,
  dwProviderReserved, dwServiceFlags2..4, the LSP categories, and a namespace provider's DLL path,
  address family, StoresServiceClassInfo and ProviderInfo -- get the model defaults (path ``""``);
  a warning says so.  Except: ``sporder_py.known`` fills in provider flags, max offset and message
  size of the entries that are well-known Microsoft providers (matched by provider GUID, triple
  and DLL path), of chain entries over them, and PFL_HIDDEN on layered entries; each entry lists
  those fields in ``inferred`` and the warnings name them.  Counters: next_entry_id = highest id
  seen (entries and chains) + 1, serial 1.
* **Markdown.**  When the first block title is inside a fenced code block (a ``sporder
  report``, whose catalog sits in a collapsed ``<details>`` element, or a listing pasted into a
  GitHub issue between backtick fences), only that fenced block is read.
* ``partial=True`` keeps the complete blocks and turns each block that lacks required fields
  (a truncated paste) into a warning; bad values are errors either way.

Writing (``render_netsh``) produces exactly the English format: the title, a rule of 54 ``-``,
the Description of a protocol entry as netsh prints it (WSCEnumProtocols resolves an indirect
``@dll,-id`` name to its display text, ``names.display_name``; a namespace's Description is
printed as stored, as a Windows 11 netsh printed the NLA provider's ``@...nlasvc.dll,-1000``),
labels padded so values start at column 37, Service Flags as ``0x`` + lower-case hex, the unpadded
``Protocol Chain: a : b`` line for chains only, `` (32)`` on the Entry Type of the 32-bit
catalog, one blank line after every block; the catalogs in order (64, then 32), then the
namespace blocks of the first catalog rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import winsock as ws
from ..errors import CatalogFileError, OperationRefused, UsageError
from ..model import (
    BITNESSES,
    Bitness,
    Catalog,
    CatalogFile,
    Kind,
    NamespaceEntry,
    ProtocolEntry,
    kind_for_chain_len,
)
from ..names import display_name
from .catalog_toml import from_dict, normalize_guid, to_dict

PROTOCOL_TITLE = "Winsock Catalog Provider Entry"
NAMESPACE_TITLE = "Name Space Provider Entry"
RULE = "-" * 54
LABEL_COLUMNS = 36                  # label + colon + padding; values start at column 37
WOW64_SUFFIX = "(32)"
CHAIN_LABEL = "Protocol Chain"
DESCRIPTION = "imported from netsh text"
# The WSAPROTOCOL_INFOW fields a protocol block does not print (``known.complete`` fills them in
# where the entry is a known Microsoft provider).
NOT_CARRIED = ("protocol_max_offset", "provider_flags", "message_size", "byte_order",
               "security_scheme", "provider_reserved", "service_flags2", "service_flags3",
               "service_flags4", "lsp_categories")

PROTOCOL_LABELS = ("Entry Type", "Description", "Provider ID", "Provider Path",
                   "Catalog Entry ID", "Version", "Address Family", "Max Address Length",
                   "Min Address Length", "Socket Type", "Protocol", "Service Flags",
                   "Protocol Chain Length")
NAMESPACE_LABELS = ("Description", "Provider ID", "Name Space", "Active", "Version")

# netsh-format.md, "zh-CN label map".
_ZH_LABELS = {
    "项类型": "Entry Type", "描述": "Description", "提供程序 ID": "Provider ID",
    "提供程序路径": "Provider Path", "目录项 ID": "Catalog Entry ID", "版本": "Version",
    "地址族": "Address Family", "最大地址长度": "Max Address Length",
    "最小地址长度": "Min Address Length", "Socket 类型": "Socket Type", "协议": "Protocol",
    "服务标志": "Service Flags", "协议链长度": "Protocol Chain Length", "协议链": CHAIN_LABEL,
}
_TITLES = {PROTOCOL_TITLE: "protocol", "Winsock 目录提供程序项": "protocol",
           NAMESPACE_TITLE: "namespace"}
_ALLOWED = {"protocol": set(PROTOCOL_LABELS) | {CHAIN_LABEL}, "namespace": set(NAMESPACE_LABELS)}
ENTRY_TYPES: dict[Kind, str] = {"layered": "Layered Service Provider",
                                "base": "Base Service Provider",
                                "chain": "Layered Chain Entry"}
_TYPE_KINDS: dict[str, Kind] = {**{v: k for k, v in ENTRY_TYPES.items()},
                                "基本服务提供程序": "base", "分层链项": "chain"}
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


@dataclass
class _Block:
    kind: str                                               # "protocol" | "namespace"
    line: int                                               # line number of the title
    fields: dict[str, tuple[int, str]] = field(default_factory=dict)   # label -> (line, value)


def _lines(text: str) -> list[str]:
    """The lines of the text (a final line break ends the last line, it does not add one)."""
    lines = _LINE_SPLIT.split(text.removeprefix("\ufeff"))
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    return [line.strip() for line in lines]


_FENCE = re.compile(r"(`{3,}|~{3,})[^`]*")


def _unfenced(lines: list[str]) -> list[str]:
    """Markdown (a ``sporder report``, an issue comment): when the first block title sits in a
    fenced code block, the lines of that block, every other line blanked (line numbers kept).
    Text without such a fence is returned as it is."""
    first = next((i for i, line in enumerate(lines) if line in _TITLES), None)
    if first is None:
        return lines
    fences = [i for i in range(first) if _FENCE.fullmatch(lines[i])]
    if len(fences) % 2 == 0:         # the title is not inside a fenced block
        return lines
    opening = fences[-1]
    fence = _FENCE.fullmatch(lines[opening])
    mark = fence.group(1) if fence else "```"
    close = next((j for j in range(first + 1, len(lines))
                  if lines[j].startswith(mark) and set(lines[j]) == {mark[0]}), len(lines))
    return [""] * (opening + 1) + lines[opening + 1:close] + [""] * (len(lines) - close)


def _is_rule(line: str) -> bool:
    """The rule under a title: 54 dashes in netsh; any run of dashes is accepted."""
    return bool(line) and set(line) == {"-"}


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:60] + "...")


class _Reader:
    def __init__(self, source: str, partial: bool) -> None:
        self.source = source
        self.partial = partial
        self.warnings: list[str] = []

    def fail(self, line: int, detail: str) -> CatalogFileError:
        return CatalogFileError(f"{self.source}: line {line}: {detail}", code="netsh-invalid")

    # -- splitting the text into blocks ----------------------------------------------------

    def blocks(self, lines: list[str]) -> list[_Block]:
        for n, line in enumerate(lines, 1):
            if "\x00" in line:
                raise self.fail(n, "contains a NUL byte; this is binary data, not netsh text.")
        start = next((i for i, line in enumerate(lines) if line in _TITLES), None)
        if start is None:
            if not any(lines):
                raise self.fail(1, "the text is empty; expected the output of "
                                   "'netsh winsock show catalog'.")
            raise self.fail(len(lines), f"no '{PROTOCOL_TITLE}' or '{NAMESPACE_TITLE}' block in "
                                        f"{len(lines)} lines (English and Simplified Chinese "
                                        "listings are understood).")
        out: list[_Block] = []
        i = start
        while i < len(lines):
            line = lines[i]
            if not line:
                i += 1
                continue
            kind = _TITLES.get(line)
            if kind is None:
                if i + 1 < len(lines) and _is_rule(lines[i + 1]):
                    self.warnings.append(f"{self.source}: line {i + 1}: skipped a block titled "
                                         f"{_shown(line)}, which is not a netsh block this "
                                         "reader knows.")
                    i += 2
                    while i < len(lines) and lines[i]:
                        i += 1
                    continue
                raise self.fail(i + 1, f"unexpected text {_shown(line)} between blocks "
                                       "(expected a blank line or a block title).")
            block = _Block(kind, i + 1)
            out.append(block)
            i += 1
            if i < len(lines) and lines[i]:
                if not _is_rule(lines[i]):
                    raise self.fail(i + 1, f"expected the rule of 54 '-' under the title on line "
                                           f"{block.line}, found {_shown(lines[i])}.")
                i += 1
            while i < len(lines) and lines[i] and lines[i] not in _TITLES:
                self._field(block, i + 1, lines[i])
                i += 1
        return out

    def _field(self, block: _Block, n: int, line: str) -> None:
        label, colon, rest = line.partition(":")
        label = _ZH_LABELS.get(label, label)
        if not colon or label not in _ALLOWED[block.kind]:
            title = PROTOCOL_TITLE if block.kind == "protocol" else NAMESPACE_TITLE
            raise self.fail(n, f"{_shown(line)} is not a field of the '{title}' block that "
                               f"starts on line {block.line}.")
        if label in block.fields:
            raise self.fail(n, f"a second '{label}' field in the block that starts on line "
                               f"{block.line} (is a blank line or a title missing?).")
        block.fields[label] = (n, rest.lstrip())

    def complete(self, block: _Block, required: list[str]) -> bool:
        missing = [label for label in required if label not in block.fields]
        if not missing:
            return True
        title = PROTOCOL_TITLE if block.kind == "protocol" else NAMESPACE_TITLE
        message = (f"{self.source}: line {block.line}: the '{title}' block lacks "
                   f"{', '.join(missing)}")
        if not self.partial:
            raise CatalogFileError(message + " (a truncated listing? partial import skips "
                                   "incomplete blocks).", code="netsh-invalid")
        self.warnings.append(message + "; skipped.")
        return False

    # -- values -------------------------------------------------------------------------------

    def number(self, block: _Block, label: str, lo: int = ws.INT_MIN,
               hi: int = ws.INT_MAX) -> int:
        n, text = block.fields[label]
        if not _DECIMAL.fullmatch(text):
            raise self.fail(n, f"{label} {_shown(text)} is not a decimal number.")
        value = int(text)
        if not lo <= value <= hi:
            raise self.fail(n, f"{label} {value} is outside {lo}..{hi}.")
        return value

    def text(self, block: _Block, label: str, limit: int) -> str:
        n, value = block.fields[label]
        if len(value) > limit:
            raise self.fail(n, f"{label} is {len(value)} characters long; the limit is {limit}.")
        return value

    def guid(self, block: _Block) -> str:
        n, text = block.fields["Provider ID"]
        guid = normalize_guid(text)
        if guid is None:
            raise self.fail(n, f"Provider ID {_shown(text)} is not a GUID like "
                               "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}.")
        return guid

    def protocol(self, block: _Block) -> tuple[Bitness, ProtocolEntry] | None:
        required = list(PROTOCOL_LABELS)
        chain_len = -1
        if "Protocol Chain Length" in block.fields:
            chain_len = self.number(block, "Protocol Chain Length", 0, ws.MAX_PROTOCOL_CHAIN)
            if chain_len >= 2:
                required.append(CHAIN_LABEL)
        if not self.complete(block, required):
            return None
        entry_id = self.number(block, "Catalog Entry ID", 0, ws.DWORD_MAX)
        kind = kind_for_chain_len(chain_len)
        type_line, entry_type = block.fields["Entry Type"]
        wow64 = entry_type.endswith(WOW64_SUFFIX)
        bare = entry_type.removesuffix(WOW64_SUFFIX).rstrip()
        if _TYPE_KINDS.get(bare, kind) != kind:
            raise self.fail(type_line, f"Entry Type {_shown(bare)} contradicts Protocol Chain "
                                       f"Length {chain_len} (a {kind} entry).")
        n, flags = block.fields["Service Flags"]
        if not _HEX.fullmatch(flags) or int(flags, 16) > ws.DWORD_MAX:
            raise self.fail(n, f"Service Flags {_shown(flags)} is not a 0x hex DWORD.")
        chain: tuple[int, ...] = ()
        if CHAIN_LABEL in block.fields:
            n, text = block.fields[CHAIN_LABEL]
            if chain_len < 2:
                raise self.fail(n, "a Protocol Chain line belongs only to entries whose Protocol "
                                   f"Chain Length is 2 or more, and this one is {chain_len}.")
            parts = [p.strip() for p in text.split(":")]
            if not all(_DECIMAL.fullmatch(p) and 0 <= int(p) <= ws.DWORD_MAX for p in parts):
                raise self.fail(n, f"Protocol Chain {_shown(text)} is not catalog ids joined by "
                                   "' : '.")
            chain = tuple(int(p) for p in parts)
            if len(chain) != chain_len:
                raise self.fail(n, f"Protocol Chain lists {len(chain)} ids but Protocol Chain "
                                   f"Length is {chain_len}.")
            if len(set(chain)) != len(chain) or entry_id in chain:
                raise self.fail(n, "Protocol Chain names an id twice or names the entry itself "
                                   "(winsock-semantics §1.2).")
        entry = ProtocolEntry(
            id=entry_id, kind=kind,
            name=self.text(block, "Description", ws.WSAPROTOCOL_LEN),
            provider_id=self.guid(block),
            path=self.text(block, "Provider Path", ws.MAX_PATH - 1),
            family=self.number(block, "Address Family"),
            socket_type=self.number(block, "Socket Type"),
            protocol=self.number(block, "Protocol"),
            min_address_length=self.number(block, "Min Address Length"),
            max_address_length=self.number(block, "Max Address Length"),
            service_flags=int(flags, 16), chain=chain,
            version=self.number(block, "Version"))
        return ("32" if wow64 else "64"), entry

    def namespace(self, block: _Block) -> NamespaceEntry | None:
        if not self.complete(block, list(NAMESPACE_LABELS)):
            return None
        n, active = block.fields["Active"]
        if active not in ("0", "1"):
            raise self.fail(n, f"Active {_shown(active)} is not 0 or 1.")
        return NamespaceEntry(provider_id=self.guid(block),
                              name=self.text(block, "Description", ws.WSAPROTOCOL_LEN),
                              namespace=self.number(block, "Name Space"), path="",
                              enabled=active == "1",
                              version=self.number(block, "Version", 0, ws.DWORD_MAX))


def parse_netsh(text: str, source: str, *,
                partial: bool = False) -> tuple[CatalogFile, list[str]]:
    """Read ``netsh winsock show catalog`` output into a CatalogFile; returns (file, warnings).

    Raises CatalogFileError naming ``source`` and the line for anything it cannot read (see the
    module docstring for the choices made where Windows leaves the format open).
    """
    r = _Reader(source, partial)
    protocols: dict[Bitness, list[ProtocolEntry]] = {"64": [], "32": []}
    id_lines: dict[tuple[Bitness, int], int] = {}
    namespaces: list[NamespaceEntry] = []
    for block in r.blocks(_unfenced(_lines(text))):
        if block.kind == "namespace":
            ns = r.namespace(block)
            if ns is not None:
                namespaces.append(ns)
            continue
        got = r.protocol(block)
        if got is None:
            continue
        bitness, entry = got
        where = block.fields["Catalog Entry ID"][0]
        if (bitness, entry.id) in id_lines:
            raise r.fail(where, f"Catalog Entry ID {entry.id} is already used in the "
                                f"{bitness}-bit catalog by the entry on line "
                                f"{id_lines[bitness, entry.id]}.")
        id_lines[bitness, entry.id] = where
        protocols[bitness].append(entry)
    if not namespaces and not any(protocols.values()):
        raise r.fail(1, "no complete block remains after skipping the incomplete ones.")
    present: list[Bitness] = [b for b in BITNESSES if protocols[b]] or ["64"]
    ns_by_bitness = {b: namespaces for b in present}
    half = len(namespaces) // 2
    if (len(present) == 2 and namespaces and len(namespaces) % 2 == 0
            and [n.provider_id for n in namespaces[:half]]
            == [n.provider_id for n in namespaces[half:]]):
        ns_by_bitness = {"64": namespaces[:half], "32": namespaces[half:]}
    all_ids = [i for entries in protocols.values() for e in entries for i in (e.id, *e.chain)]
    f = CatalogFile(
        catalogs={b: Catalog(b, tuple(protocols[b]), tuple(ns_by_bitness[b])) for b in present},
        next_entry_id=max(all_ids, default=ws.FIRST_CATALOG_ENTRY_ID - 1) + 1,
        serial=1, description=DESCRIPTION)
    # The catalog-file rules (chains naming ids of the other catalog, orphans, ...) in one place.
    f, checks = from_dict(to_dict(f), source)
    warnings = r.warnings + checks
    if any(protocols.values()):
        from ..known import complete
        warnings.append(f"{source}: netsh text does not carry provider flags, protocol max "
                        "offset, message size, byte order, security scheme or LSP categories; "
                        "they were set to the defaults except where inferred below.")
        f, inferred = complete(f, NOT_CARRIED, source)
        warnings += inferred
    if namespaces:
        warnings.append(f"{source}: netsh text does not carry the DLL path of namespace "
                        "providers; it was left empty.")
    return f, warnings


# ---------------------------------------------------------------------------------------------
# Writing.

def _row(label: str, value: object) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        raise OperationRefused(f"the {label} {text!r} contains a line break, which netsh text "
                               "cannot carry.", code="netsh-unrepresentable")
    return f"{label + ':':<{LABEL_COLUMNS}}{text}"


def protocol_block(e: ProtocolEntry, bitness: Bitness = "64") -> str:
    """One protocol block as netsh prints it, ending with a newline (no blank line)."""
    entry_type = ENTRY_TYPES[e.kind] + (f" {WOW64_SUFFIX}" if bitness == "32" else "")
    rows = [_row(label, value) for label, value in (
        ("Entry Type", entry_type), ("Description", display_name(e.name)),
        ("Provider ID", e.provider_id),
        ("Provider Path", e.path), ("Catalog Entry ID", e.id), ("Version", e.version),
        ("Address Family", e.family), ("Max Address Length", e.max_address_length),
        ("Min Address Length", e.min_address_length), ("Socket Type", e.socket_type),
        ("Protocol", e.protocol), ("Service Flags", f"0x{e.service_flags:x}"),
        ("Protocol Chain Length", e.chain_len))]
    if e.chain_len >= 2:
        rows.append(f"{CHAIN_LABEL}: " + " : ".join(str(i) for i in e.chain))
    return "\n".join([PROTOCOL_TITLE, RULE, *rows]) + "\n"


def namespace_block(n: NamespaceEntry) -> str:
    """One namespace block as netsh prints it, ending with a newline (no blank line)."""
    rows = [_row(label, value) for label, value in (
        ("Description", n.name), ("Provider ID", n.provider_id), ("Name Space", n.namespace),
        ("Active", int(n.enabled)), ("Version", n.version))]
    return "\n".join([NAMESPACE_TITLE, RULE, *rows]) + "\n"


def render_netsh(f: CatalogFile, bitnesses: list[str] | None = None) -> str:
    """The file as ``netsh winsock show catalog`` prints it (English).

    ``bitnesses`` picks catalogs (default: all, native first); the namespace blocks are those of
    the first catalog rendered.  Raises UsageError for a bitness the file lacks and
    OperationRefused for a value with a line break.
    """
    wanted = f.bitnesses if bitnesses is None else bitnesses
    for b in wanted:
        if b not in f.catalogs:
            have = " and ".join(f"{x}-bit" for x in f.bitnesses)
            raise UsageError(f"the file has no {b!r} catalog (it has the {have} catalog).",
                             code="bad-value")
    chosen = [b for b in f.bitnesses if b in wanted]
    blocks = [protocol_block(e, b) for b in chosen for e in f.catalogs[b].protocols]
    if chosen:
        blocks += [namespace_block(n) for n in f.catalogs[chosen[0]].namespaces]
    return "".join(block + "\n" for block in blocks)


def looks_like_netsh(text: str) -> bool:
    """True when the text holds a netsh block: a known title line followed by a dash rule."""
    lines = _lines(text)
    # Each line paired with the next: the shifted copy is one shorter, so strict=False.
    return any(line in _TITLES and _is_rule(nxt)
               for line, nxt in zip(lines, lines[1:], strict=False))
