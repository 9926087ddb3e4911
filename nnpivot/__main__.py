"""``python -m nnpivot``: the same command line as the ``nnpivot`` console script."""
import sys

from nnpivot.cli import main

sys.exit(main())
