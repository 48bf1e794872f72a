"""Lets `python scripts/<name>.py` import the project's packages without installing them."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
# Two busy processes on few cores: spin-waiting OpenMP threads slow each other down badly.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
