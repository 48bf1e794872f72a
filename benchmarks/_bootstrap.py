"""Lets `python benchmarks/<name>.py` import the project's packages and scripts/' helpers (`_cli`)
without installing them, as scripts/_bootstrap.py does for scripts/."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(ROOT, "scripts"), ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)
# Two busy processes on few cores: spin-waiting OpenMP threads slow each other down badly.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
