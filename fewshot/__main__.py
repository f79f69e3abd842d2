"""``python -m fewshot`` runs the command-line interface."""

import sys

from fewshot.cli import main

sys.exit(main())
