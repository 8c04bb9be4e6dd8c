"""The ``sporder`` command line: thin click commands that parse, call one domain function,
render and save.  ``app`` holds the group, the global options, the JSON envelope, the table of
commands and the error -> exit code map; each other module is one family of commands, named for
what users do.  The CLI may import every other layer (render, store, formats, ops, resolver,
integrity, probe, wsk, model, winsock); nothing imports the CLI.
"""
