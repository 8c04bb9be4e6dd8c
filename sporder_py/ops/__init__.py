"""Pure catalog operations, ``CatalogFile -> (CatalogFile, [Change])`` (winsock-semantics §4, §6,
§7), one operation per module: ``install``, ``install_lsp``, ``chain_insert``, ``order`` (reorder,
move), ``uninstall``, ``namespaces``, ``categories`` and ``reset``; ``batch`` runs any of them from
a spec table (what both the CLI and ``sporder apply`` do), and ``checks`` (validation, refusals)
and ``chain_entry`` (how a written chain entry is named and flagged) hold what several share.

Layers run cli -> render/store -> formats/ops/resolver/integrity/probe/wsk -> model -> winsock, so
ops imports only the domain modules beside and below it (``model``, ``winsock``, ``names``,
``errors``, ``_record``, ``lspmap``, ``resolver``): never click, rich, ``store`` or ``formats``,
and it does no I/O.  (Still to be moved down: ``formats.catalog_toml``'s ``normalize_guid``,
used by ``checks`` and ``namespaces``, and ``entry_from_spec``, used by ``batch``.)
"""

from ..model import CatalogFile, Change

Result = tuple[CatalogFile, list[Change]]
"""What every protocol operation returns: the new file and the changes that made it."""
