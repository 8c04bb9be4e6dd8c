"""The store's limits: how long a writer waits for the lock, and how much of a file it reads.

Kept apart so that the command line can name them without importing the locking code.
"""

DEFAULT_LOCK_TIMEOUT = 30.0          # seconds a writer waits for the lock (--lock-timeout)
MAX_LOCK_TIMEOUT = 7 * 24 * 3600.0   # a week: far beyond any wait, within every platform timer

# The most sporder reads of any input file.  Far above any real input (a catalog file of 50,000
# entries is ~35 MB; a real SYSTEM hive can pass 100 MB), far below what exhausts memory.
MAX_INPUT_BYTES = 1 << 30
