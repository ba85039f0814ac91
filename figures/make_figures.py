"""Make every registered figure (or the ones named) under figures/out: ``pmtheory figures``.

Usage: ``python figures/make_figures.py [NAME ...] [--out DIR] [--quick] [--list]``. The
figures are computed by the modules that register them (``pmtheory/<paper>/figures.py``),
with the same code the claim checks use; this script only forwards to the CLI.
"""

import sys

from pmtheory.cli import main

if __name__ == "__main__":
    sys.exit(main(["figures", *sys.argv[1:]]))
