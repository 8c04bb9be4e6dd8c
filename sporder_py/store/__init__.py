"""Where the catalog file lives and how it is read and changed safely (DESIGN §5).

``location`` finds the file (option > environment > per-user default), ``shipped`` serves the
default catalogs inside the package, ``reading`` reads a file for the read commands, ``atomic``
locks and replaces files atomically, ``history`` keeps records, saved states and undo, and
``transaction`` puts them together as one locked, validated, recorded write (``mutate``).
The store may import ``formats``, ``model`` and ``errors``; never click, rich or the CLI.
"""
