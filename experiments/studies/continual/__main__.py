"""``python -m experiments.studies.continual …`` is ``python -m experiments continual …``."""

import sys

from experiments.__main__ import main

sys.exit(main(["continual", *sys.argv[1:]]))
