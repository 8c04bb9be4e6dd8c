"""What sporder writes into a chain entry it creates or rewrites (install-lsp, chain-insert, the
uninstall repair): the generated name, the XP1_IFS_HANDLES service flag, and the field list of
the ``update`` change that reports the rewrite.

A chain entry's XP1_IFS_HANDLES is kept equal to "every entry its chain names has
XP1_IFS_HANDLES" whenever sporder writes that chain (winsock-semantics §1.2: a non-IFS LSP
clears it).  A generated chain name ``"<LSP> over [<target>]"`` is cut to WSAPROTOCOL_LEN
characters, as instlsp's StringCchPrintf into a WSAPROTOCOL_LEN+1 buffer does (a choice where
the reference is silent).
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import winsock as ws
from ..lspmap import Lookup
from ..model import ProtocolEntry
from ..names import display_name


def over_name(top: str, target: str) -> str:
    """instlsp's "%s over [%s]" chain name, cut to WSAPROTOCOL_LEN (§1.2)."""
    return f"{display_name(top)} over [{display_name(target)}]"[:ws.WSAPROTOCOL_LEN]


def chain_flags(flags: int, chain: Sequence[int], lookup: Lookup) -> int:
    """XP1_IFS_HANDLES set exactly when every entry the chain names has it (§1.2)."""
    if all((e := lookup(i)) is not None and e.is_ifs for i in chain):
        return flags | ws.XP1_IFS_HANDLES
    return flags & ~ws.XP1_IFS_HANDLES


def changed_fields(old: ProtocolEntry,
                   new: ProtocolEntry) -> tuple[tuple[str, object, object], ...]:
    """The ``(field, old, new)`` triples of a chain rewrite: always the chain, then the name
    and the service flags when they changed."""
    out: list[tuple[str, object, object]] = [("chain", list(old.chain), list(new.chain))]
    if old.name != new.name:
        out.append(("name", old.name, new.name))
    if old.service_flags != new.service_flags:
        out.append(("service_flags", old.service_flags, new.service_flags))
    return tuple(out)
