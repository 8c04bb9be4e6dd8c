"""sporder: a model of the Winsock 2 catalog, its editors and its resolver, as a library.

The domain (``model``, ``winsock``, ``resolver``, ``operations``, ``integrity``, ``wsk``) is pure
Python with no click or rich; the ``cli`` module is a thin layer over it.
"""

__version__ = "0.1.0"
