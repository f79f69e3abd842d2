"""``python -m episodes train|evaluate``: the same commands as ``fewshot train|evaluate``."""

from episodes.cli import main

raise SystemExit(main())
