"""Which catalog entry ``socket(af, type, protocol)`` gets (winsock-semantics §2.2, §2.5).

The walk is Windows' as inferred from all 47 observations in §3: layered (ChainLen 0) entries are
invisible; the type is checked before the family; protocol 0 matches only entries with
PFL_MATCHES_PROTOCOL_ZERO, other protocols match [iProtocol, iProtocol + iProtocolMaxOffset];
errors rank WSAEPROTONOSUPPORT > WSAEAFNOSUPPORT > WSAESOCKTNOSUPPORT; af = 0 with protocol = 0
is WSAEINVAL before anything else.  An empty catalog gives WSAESOCKTNOSUPPORT (an unknown,
§8 item 8: the model's natural answer, chosen and documented here).
"""

from __future__ import annotations

from . import winsock as ws
from ._record import Record, record
from .errors import WinsockError
from .model import Catalog, ProtocolEntry

_set = object.__setattr__


@record()
class Verdict(Record):
    """Why one entry was skipped or chosen (``resolve --explain``)."""

    entry: ProtocolEntry
    verdict: str          # chosen | skipped
    reason: str

    def __init__(self, entry: ProtocolEntry, verdict: str, reason: str) -> None:
        _set(self, "entry", entry)
        _set(self, "verdict", verdict)
        _set(self, "reason", reason)


@record()
class Resolution(Record):
    """The outcome of one socket() request: the entry chosen and its layers, or the error."""

    request: tuple[int, int, int]
    entry: ProtocolEntry | None
    layers: tuple[ProtocolEntry | None, ...]   # top layer .. base provider; None = missing id
    error: int | None
    verdicts: tuple[Verdict, ...] = ()
    effective: tuple[int, int, int] | None = None   # the triple the socket would report

    def __init__(self, request: tuple[int, int, int], entry: ProtocolEntry | None,
                 layers: tuple[ProtocolEntry | None, ...], error: int | None,
                 verdicts: tuple[Verdict, ...] = (),
                 effective: tuple[int, int, int] | None = None) -> None:
        _set(self, "request", request)
        _set(self, "entry", entry)
        _set(self, "layers", layers)
        _set(self, "error", error)
        _set(self, "verdicts", verdicts)
        _set(self, "effective", effective)

    @property
    def ok(self) -> bool:
        return self.error is None


def layer_stack(catalog: Catalog, entry: ProtocolEntry) -> tuple[ProtocolEntry | None, ...]:
    """The entries a chain names, top layer first, base last (None where an id is missing)."""
    return tuple(catalog.get(i) for i in entry.chain_ids)


def _protocol_matches(e: ProtocolEntry, protocol: int) -> bool:
    if protocol == 0:
        return bool(e.provider_flags & ws.PFL_MATCHES_PROTOCOL_ZERO)
    return e.protocol <= protocol <= e.protocol + e.protocol_max_offset


def resolve(catalog: Catalog, af: int, type_: int, protocol: int, *,
            explain: bool = False) -> Resolution:
    """socket(af, type, protocol) with lpProtocolInfo == NULL, §2.2."""
    request = (af, type_, protocol)
    if af == 0 and protocol == 0:
        return Resolution(request, None, (), ws.WSAEINVAL)
    err = ws.WSAESOCKTNOSUPPORT
    verdicts: list[Verdict] = []
    for e in catalog.protocols:
        if e.kind == "layered":
            if explain:
                verdicts.append(Verdict(e, "skipped", "layered entry: invisible to socket()"))
            continue
        if type_ != 0 and e.socket_type != type_:
            if explain:
                verdicts.append(Verdict(e, "skipped", f"socket type {e.socket_type} != {type_}"))
            continue
        if af != 0 and e.family != af:
            if err == ws.WSAESOCKTNOSUPPORT:
                err = ws.WSAEAFNOSUPPORT
            if explain:
                verdicts.append(Verdict(e, "skipped", f"family {e.family} != {af}"))
            continue
        if _protocol_matches(e, protocol):
            if explain:
                verdicts.append(Verdict(e, "chosen", _why_chosen(e, protocol)))
            effective = (e.family, e.socket_type, protocol if protocol else e.protocol)
            return Resolution(request, e, layer_stack(catalog, e), None, tuple(verdicts),
                              effective)
        err = ws.WSAEPROTONOSUPPORT
        if explain:
            verdicts.append(Verdict(e, "skipped", _why_not_protocol(e, protocol)))
    return Resolution(request, None, (), err, tuple(verdicts))


def _why_chosen(e: ProtocolEntry, protocol: int) -> str:
    if protocol == 0:
        return "first match: type and family match, PFL_MATCHES_PROTOCOL_ZERO set"
    if e.protocol_max_offset:
        return (f"first match: protocol {protocol} in "
                f"{e.protocol}..{e.protocol + e.protocol_max_offset}")
    return "first match: type, family and protocol match"


def _why_not_protocol(e: ProtocolEntry, protocol: int) -> str:
    if protocol == 0:
        return "protocol 0 requested but PFL_MATCHES_PROTOCOL_ZERO is not set"
    if e.protocol_max_offset:
        return f"protocol {protocol} not in {e.protocol}..{e.protocol + e.protocol_max_offset}"
    return f"protocol {e.protocol} != {protocol}"


def resolve_with_info(catalog: Catalog, af: int, type_: int, protocol: int,
                      info_id: int) -> Resolution:
    """WSASocket(af, type, protocol, &info) where info is entry ``info_id`` (§2.5).

    The entry is chosen by dwCatalogEntryId (unknown id -> WSAEINVAL); each argument that is 0 or
    FROM_PROTOCOL_INFO (-1) is taken from the structure; then af == 0 && protocol == 0 ->
    WSAEINVAL, af == 0 -> WSAEAFNOSUPPORT.  Whether Windows re-validates the effective triple
    against the entry is unknown (§8 item 5); this model does not, as the documentation says
    the values are passed unmodified to the provider.
    """
    request = (af, type_, protocol)
    e = catalog.get(info_id)
    if e is None:
        return Resolution(request, None, (), ws.WSAEINVAL)
    eff = tuple(arg if arg not in (0, ws.FROM_PROTOCOL_INFO) else mine
                for arg, mine in zip(request, e.triple, strict=True))
    if eff[0] == 0 and eff[2] == 0:
        return Resolution(request, None, (), ws.WSAEINVAL)
    if eff[0] == 0:
        return Resolution(request, None, (), ws.WSAEAFNOSUPPORT)
    return Resolution(request, e, layer_stack(catalog, e), None, (),
                      (eff[0], eff[1], eff[2]))


def request_text(af: int, type_: int, protocol: int) -> str:
    """``AF_INET, SOCK_STREAM, IPPROTO_TCP``: names where Winsock has them; 0 stays 0 (any)."""
    def num(v: int) -> str:
        return hex(v) if abs(v) > 0xFFFF else str(v)
    return ", ".join([
        (ws.family_name(af) if af else None) or num(af),
        (ws.socket_type_name(type_) if type_ else None) or num(type_),
        (ws.protocol_name(af, protocol) if protocol else None) or num(protocol)])


def error_for(res: Resolution) -> WinsockError | None:
    """The WinsockError a failed resolution is reported as (exit 1); None when it succeeded."""
    if res.error is None:
        return None
    return WinsockError(f"socket({request_text(*res.request)}) fails with "
                        f"{ws.wsa_error_text(res.error)}.",
                        code=(ws.error_name(res.error) or "winsock-error").lower(),
                        winsock_error=res.error)


def raise_for(res: Resolution) -> None:
    """Raise the WinsockError of a failed resolution."""
    error = error_for(res)
    if error is not None:
        raise error


def lsp_loads(app_categories: int | None, lsp_categories: int) -> bool:
    """§7.4: does an LSP with these categories load into an application with these?"""
    if app_categories is None:
        return True
    return ((lsp_categories & app_categories) != 0
            and (lsp_categories & ~app_categories) == 0
            and (not (app_categories & ws.LSP_SYSTEM) or bool(lsp_categories & ws.LSP_SYSTEM)))
