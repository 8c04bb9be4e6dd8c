"""Pure catalog operations: ``CatalogFile -> (CatalogFile, [Change])`` (winsock-semantics §4, §6, §7).

``protocols`` installs, layers, inserts, reorders and removes protocol entries; ``namespaces``,
``categories`` and ``reset`` cover the rest; ``batch`` runs any of them from a spec table, which
is what both the CLI and ``sporder apply`` do.
"""
