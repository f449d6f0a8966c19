"""`python -m notifier` — the same as `duban notifier run`."""

from __future__ import annotations

import sys

from duban.cli import main

if __name__ == "__main__":
    sys.exit(main(["notifier", "run", *sys.argv[1:]]))
