"""Generate a large, realistic, valid sporder catalog file for benchmarks.

The file starts from the shipped Windows 11 catalog and grows it the way real machines grow:
third-party base providers are installed (NetBIOS pairs per LANA, IPX/SPX, IrDA, PGM, ATM,
VMware vSockets, vendor TCP/IP stacks), then LSPs are installed one after the other, each with a
hidden (layered) entry plus one chain entry per target, the new chains moved to the top of the
catalog as instlsp/install-lsp do.  Targets are a mix of "what each triple resolves to today"
(so LSPs stack over other LSPs: chains [L2, L1, B]) and random bases/chains.  Both catalogs
(64 and 32) hold the same entries with the same ids, as on real 64-bit Windows, and every write
leaves a history record (the last 1000 are kept, as the store does).

``entries`` counts protocol entries in the whole file (both catalogs): N/2 per catalog.

Invariants kept so that every command works on the result (and ``doctor`` finds nothing):
chains name only existing entries, end in a base, are at most 5 long (so ``install-lsp
--over-all`` can still layer over anything), IFS LSPs only go over all-IFS stacks (IFS rule),
newer LSPs are always on top (no lsp-fight).

Run: python bench/gen_catalog.py N -o FILE [--seed S] [--check]
Library: ``generate(n, seed) -> (CatalogFile, meta)``; ``write(path, n, seed) -> meta``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sporder_py import winsock as ws  # noqa: E402
from sporder_py.formats import catalog_toml  # noqa: E402
from sporder_py.model import (  # noqa: E402
    AppCategory,
    Catalog,
    CatalogFile,
    HistoryRecord,
    NamespaceEntry,
    ProtocolEntry,
)

MAX_TARGET_CHAIN = 4          # targets have chain_len <= 4, so generated chains are <= 5 long
BASE_SHARE = 0.12             # fraction of a catalog's entries that are base providers
KEEP_RECORDS = 1000

_SYS = "%SystemRoot%\\system32\\"
_XP_STREAM = 0x20066          # delivery, order, graceful close, expedited, IFS
_XP_DGRAM = 0x20609           # connectionless, message, broadcast, multipoint, IFS
_PFL0 = ws.PFL_MATCHES_PROTOCOL_ZERO

# Base provider families found on real machines: (name, guid, path, family, type, protocol,
# max offset, min/max address length, service flags, provider flags, message size).
_BASES: list[tuple[str, str, str, int, int, int, int, int, int, int, int, int]] = [
    ("MSAFD nwlnkipx [IPX]", "{11058240-BE47-11CF-95C8-00805F48A192}", "wshisn.dll",
     6, 2, 1000, 255, 16, 14, 0x20609, _PFL0, 576),
    ("MSAFD nwlnkspx [SPX]", "{11058241-BE47-11CF-95C8-00805F48A192}", "wshisn.dll",
     6, 5, 1256, 0, 16, 14, 0x2000E, 0, 0xFFFFFFFF),
    ("MSAFD nwlnkspx [SPX] [Pseudo-Stream]", "{11058241-BE47-11CF-95C8-00805F48A192}",
     "wshisn.dll", 6, 1, 1256, 0, 16, 14, 0x20026, 0, 0),
    ("MSAFD nwlnkspx [SPX II]", "{11058241-BE47-11CF-95C8-00805F48A192}", "wshisn.dll",
     6, 5, 1257, 0, 16, 14, 0x2002E, _PFL0, 0xFFFFFFFF),
    ("Microsoft Windows NT/2000 IrDA", "{3972523D-2AF1-11D1-B655-00805F3642CC}", "wshirda.dll",
     26, 1, 1, 0, 8, 36, 0x20066, _PFL0, 0),
    ("MSAFD Pgm (RDM)", "{C845F828-500F-4E1E-87C2-5DFCA19B5348}", "wshrm.dll",
     2, 4, 113, 0, 16, 16, 0x20666, 0, 0xFFFFFFFF),
    ("MSAFD Pgm (Stream)", "{C845F828-500F-4E1E-87C2-5DFCA19B5348}", "wshrm.dll",
     2, 1, 113, 0, 16, 16, 0x20626, 0, 0),
    ("MSAFD ATM AAL5", "{B3E5B82C-D8E0-11D0-A6BB-00C04FC2D09F}", "mswsock.dll",
     22, 3, 5, 0, 44, 44, 0x22807, 0, 0xFFFFFFFF),
    ("VMware vSockets STREAM", "{E31B2B3C-4E5A-4C36-A2B8-0C2BB0DEBB8D}", "vsocklib.dll",
     40, 1, 0, 0, 16, 16, _XP_STREAM, _PFL0, 0),
    ("VMware vSockets DGRAM", "{E31B2B3C-4E5A-4C36-A2B8-0C2BB0DEBB8D}", "vsocklib.dll",
     40, 2, 0, 0, 16, 16, _XP_DGRAM, _PFL0, 65507),
    ("Npcap Loopback TCP/IP", "{7A1B3C1E-8D4F-4F0B-9E1D-2B3C4D5E6F70}", "npcapwsk.dll",
     2, 1, 6, 0, 16, 16, _XP_STREAM, _PFL0, 0),
    ("Npcap Loopback UDP/IP", "{7A1B3C1E-8D4F-4F0B-9E1D-2B3C4D5E6F70}", "npcapwsk.dll",
     2, 2, 17, 0, 16, 16, _XP_DGRAM, _PFL0, 65527),
]
_NETBIOS_GUID = "{8D5F1830-C273-11CF-95C8-00805F48A192}"
_MAX_LANA = 24

_LSP_NAMES = [
    "Avast WebShield", "NOD32 Protocol Filter Interface", "Norton Internet Security",
    "McAfee NetShield", "Sophos Web Intelligence", "PC Tools Browser Defender",
    "Hotspot Shield Routing", "Comodo Firewall Pro", "ZoneAlarm Firewall", "Proxifier",
    "WideCap LSP", "FreeCap LSP", "Speedbit Video Accelerator", "NVIDIA nvLSP",
    "Trend Micro TmLSP", "Kaspersky KLIF LSP", "Web Protection LSP", "DNS Redirector",
    "Bitdefender Active Virus Control", "Spybot SDHelper", "ForceField LSP", "Vidalia Tor LSP",
]
_CATEGORIES = [0, ws.LSP_CATEGORIES["LSP_INSPECTOR"], ws.LSP_CATEGORIES["LSP_FIREWALL"],
               ws.LSP_CATEGORIES["LSP_PROXY"] | ws.LSP_CATEGORIES["LSP_REDIRECTOR"],
               ws.LSP_CATEGORIES["LSP_LOCAL_CACHE"], ws.LSP_CATEGORIES["LSP_CRYPTO_COMPRESS"],
               ws.LSP_CATEGORIES["LSP_INSPECTOR"] | ws.LSP_SYSTEM]
_CHAINS_PER_LSP = [2, 2, 3, 4, 4, 6, 6, 6, 8, 12, 16, 24]


def _guid(rng: random.Random) -> str:
    return "{" + str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper() + "}"


class _Builder:
    def __init__(self, per_catalog: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.target = per_catalog
        shipped = catalog_toml.loads(
            (ROOT / "catalogs" / "windows-11.toml").read_text(encoding="utf-8"), "windows-11")[0]
        self.shipped = shipped
        native = shipped.catalog("64")
        self.byid: dict[int, ProtocolEntry] = {e.id: e for e in native.protocols}
        self.body: list[ProtocolEntry] = list(native.protocols)   # bases and hidden entries
        self.blocks: list[list[ProtocolEntry]] = []                 # chain blocks, newest last
        self.next_id = shipped.next_entry_id
        self.count = len(self.body)
        self.cand: list[ProtocolEntry] = list(native.protocols)    # chain_len <= MAX_TARGET
        self.cand_ifs: list[ProtocolEntry] = [e for e in native.protocols if e.is_ifs]
        self.top: dict[tuple[int, int, int], ProtocolEntry] = {}   # first entry of a triple
        for e in native.protocols:
            self.top.setdefault(e.triple, e)
        self.bases = len(self.body)
        self.lsps: list[int] = []
        self.chains = 0
        self.lana = 0
        self.vendor = 0
        self.history: list[HistoryRecord] = []
        self.serial = shipped.serial
        self.clock = 1_700_000_000

    # -- events -------------------------------------------------------------------------------
    def _record(self, command: str, summary: str) -> None:
        self.clock += self.rng.randint(60, 86_400)
        import datetime
        t = datetime.datetime.fromtimestamp(self.clock, datetime.UTC)
        self.history.append(HistoryRecord(
            t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), self.rng.choice(["SYSTEM", "admin", "ci"]),
            command, summary, self.serial, self.serial + 1, self.serial))
        self.serial += 1

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _add_base(self, e: ProtocolEntry) -> None:
        self.byid[e.id] = e
        self.body.append(e)
        self.cand.append(e)
        if e.is_ifs:
            self.cand_ifs.append(e)
        self.top.setdefault(e.triple, e)
        self.count += 1
        self.bases += 1

    def add_bases(self, room: int) -> None:
        """One provider install: a NetBIOS pair for the next LANA, or a vendor group."""
        if self.lana < _MAX_LANA and room >= 2 and self.rng.random() < 0.5:
            lana, self.lana = self.lana, self.lana + 1
            proto = ws.INT_MIN if lana == 0 else -lana
            adapter = "{" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper() + "}"
            for kind, st, flags, size in (("SEQPACKET", 5, 0x2000E, 64000),
                                          ("DATAGRAM", 2, 0x20209, 64000)):
                self._add_base(ProtocolEntry(
                    id=self._new_id(), kind="base",
                    name=f"MSAFD NetBIOS [\\Device\\NetBT_Tcpip_{adapter}] {kind} {lana}",
                    provider_id=_NETBIOS_GUID, path=_SYS + "mswsock.dll", family=17,
                    socket_type=st, protocol=proto, min_address_length=20,
                    max_address_length=20, service_flags=flags, provider_flags=_PFL0,
                    message_size=size, version=1))
            self._record("sporder install --from netbios.toml",
                         f"install: 2 added, 0 removed, 0 changed (LANA {lana})")
            return
        self.vendor += 1
        size = min(room, self.rng.choice([1, 2, 2, 3, 4]))
        start = self.rng.randrange(len(_BASES))
        guid = _guid(self.rng)
        for k in range(size):
            name, _g, dll, fam, st, proto, off, amin, amax, xp1, pfl, msg = \
                _BASES[(start + k) % len(_BASES)]
            self._add_base(ProtocolEntry(
                id=self._new_id(), kind="base", name=f"{name} #{self.vendor}",
                provider_id=guid, path=_SYS + dll, family=fam, socket_type=st, protocol=proto,
                protocol_max_offset=off, min_address_length=amin, max_address_length=amax,
                service_flags=xp1, provider_flags=pfl, message_size=msg))
        self._record(f"sporder install --from vendor{self.vendor}.toml",
                     f"install: {size} added, 0 removed, 0 changed")

    def add_lsp(self, room: int) -> None:
        """One LSP: hidden entry + chains over ``room - 1`` targets at most, newest on top."""
        rng = self.rng
        ifs = rng.random() < 0.25 and len(self.cand_ifs) >= 2
        pool = self.cand_ifs if ifs else self.cand
        k = max(1, min(rng.choice(_CHAINS_PER_LSP), room - 1, len(pool)))
        picks: dict[int, ProtocolEntry] = {}
        if rng.random() < 0.6:           # "over all": what each triple resolves to today
            triples = list(self.top)
            rng.shuffle(triples)
            for t in triples:
                e = self.top[t]
                if e.chain_len <= MAX_TARGET_CHAIN and (not ifs or e.is_ifs):
                    picks.setdefault(e.id, e)
                if len(picks) >= k:
                    break
        while len(picks) < k:
            e = pool[rng.randrange(len(pool))] if rng.random() < 0.7 else \
                pool[-1 - rng.randrange(min(len(pool), 64))]
            picks.setdefault(e.id, e)
        targets = list(picks.values())
        n = len(self.lsps) + 1
        base_name = _LSP_NAMES[n % len(_LSP_NAMES)]
        name = f"{base_name} {n}"
        slug = "".join(c for c in base_name.lower() if c.isalnum())[:8]
        path = f"%ProgramFiles%\\{base_name}\\{slug}{n}.dll"
        hid = self._new_id()
        first = targets[0]
        hidden = replace(
            first, id=hid, kind="layered", chain=(), name=name, path=path,
            provider_id=_guid(rng), socket_type=0, protocol=0, protocol_max_offset=0,
            lsp_categories=rng.choice(_CATEGORIES),
            provider_flags=(first.provider_flags | ws.PFL_HIDDEN) & ~_PFL0,
            service_flags=(first.service_flags | ws.XP1_IFS_HANDLES) if ifs
            else first.service_flags & ~ws.XP1_IFS_HANDLES)
        self.byid[hid] = hidden
        block = []
        for t in targets:
            chain = (hid,) + t.chain_ids[:-1] + (t.chain_ids[-1],)
            all_ifs = all(self.byid[i].is_ifs for i in chain)
            flags = (t.service_flags | ws.XP1_IFS_HANDLES) if all_ifs \
                else t.service_flags & ~ws.XP1_IFS_HANDLES
            c = replace(t, id=self._new_id(), kind="chain", chain=chain,
                        name=f"{name} over [{t.name}]"[:ws.WSAPROTOCOL_LEN],
                        provider_id=_guid(rng), path=path, service_flags=flags,
                        lsp_categories=0)
            self.byid[c.id] = c
            block.append(c)
            if len(chain) <= MAX_TARGET_CHAIN:
                self.cand.append(c)
                if c.is_ifs:
                    self.cand_ifs.append(c)
        for c in reversed(block):        # the first chain of the newest block wins
            self.top[c.triple] = c
        self.blocks.append(block)
        self.body.append(hidden)
        self.lsps.append(hid)
        self.chains += len(block)
        self.count += 1 + len(block)
        self._record(f"sporder install-lsp --name '{name}' --path '{path}' "
                     + " ".join(f"--over {t.id}" for t in targets)
                     + (" --ifs" if ifs else ""),
                     f"install-lsp: {1 + len(block)} added, 0 removed, 0 changed")

    def build(self) -> None:
        want_bases = max(self.bases, round(self.target * BASE_SHARE))
        while self.count < self.target:
            room = self.target - self.count
            due = want_bases * self.count / self.target     # bases spread over the history
            if room == 1 or (self.bases < want_bases and (
                    self.bases <= due or self.rng.random() < 0.1)):
                self.add_bases(room)
            else:
                self.add_lsp(room)

    def order(self) -> list[ProtocolEntry]:
        out = [c for block in reversed(self.blocks) for c in block]
        return out + self.body


def generate(entries: int, seed: int = 7) -> tuple[CatalogFile, dict[str, Any]]:
    """A catalog file with ``entries`` protocol entries in all (both catalogs), and facts
    about it that benchmarks need (an LSP others are layered on, an entry to move, ...)."""
    per = max(14, entries // 2)
    b = _Builder(per, seed)
    b.build()
    order = b.order()
    ns = list(b.shipped.catalog("64").namespaces) + [
        NamespaceEntry(provider_id=_guid(b.rng), name=f"Bonjour Service {i}", namespace=12,
                       path="%ProgramFiles%\\Bonjour\\mdnsNSP.dll", version=1)
        for i in range(1, 1 + min(8, per // 500))]
    cats = {bits: Catalog(bits, tuple(order), tuple(ns)) for bits in ("64", "32")}
    apps = tuple(AppCategory(f"%ProgramFiles%\\App{i}\\app{i}.exe", "",
                             ws.LSP_CATEGORIES["LSP_INSPECTOR"] | ws.LSP_CATEGORIES["LSP_FIREWALL"])
                 for i in range(1, 1 + min(20, per // 250)))
    f = CatalogFile(
        catalogs=cats, next_entry_id=b.next_id, serial=b.serial,
        description=f"generated benchmark catalog: {2 * len(order)} entries (seed {seed})",
        app_categories=apps, wsk=b.shipped.wsk, history=tuple(b.history[-KEEP_RECORDS:]))
    # An LSP others are layered on: the hidden id named below the top of the most chains.
    under: dict[int, int] = {}
    for e in order:
        if e.kind == "chain":
            for i in e.chain[1:-1]:
                under[i] = under.get(i, 0) + 1
    layered_on = max(under, key=lambda i: (under[i], -i)) if under else None
    bottom_base = next(e.id for e in reversed(order) if e.kind == "base")
    triples = {e.triple for e in order if e.kind != "layered"}
    meta = {
        "entries": 2 * len(order), "per_catalog": len(order), "seed": seed,
        "bases": b.bases, "lsps": len(b.lsps), "chains": b.chains,
        "max_chain": max((len(e.chain) for e in order), default=0),
        "distinct_triples": len(triples), "history": len(f.history),
        "uninstall_lsp": layered_on, "uninstall_lsp_dependants": under.get(layered_on or 0, 0),
        "move_id": bottom_base,
    }
    return f, meta


def write(path: Path | str, entries: int, seed: int = 7, *, check: bool = False) -> dict[str, Any]:
    f, meta = generate(entries, seed)
    text = catalog_toml.dumps(f)
    if check:
        loaded, warnings = catalog_toml.loads(text, str(path))
        assert loaded == f and not warnings, warnings
    Path(path).write_text(text, encoding="utf-8")
    meta["bytes"] = len(text.encode("utf-8"))
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("entries", type=int, help="protocol entries in the file (both catalogs)")
    ap.add_argument("-o", "--output", required=True, help="file to write")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check", action="store_true", help="re-load the file and compare")
    args = ap.parse_args()
    print(json.dumps(write(args.output, args.entries, args.seed, check=args.check), indent=2))


if __name__ == "__main__":
    main()
