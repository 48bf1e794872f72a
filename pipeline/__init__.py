"""Recipes and their runner: the command-line and config-file layer over envs, training and evaluation.

- ``pipeline.cli``: flags and recipe files derived from the configuration dataclasses;
- ``pipeline.recipe``: one nested run configuration (collect, model, train, average, eval) read from
  ``configs/<name>.toml``, with the names of its data file, run folder and result files;
- ``pipeline.runner``: collect → train → average → evaluate, every stage resumable and locked.
"""

import os

# Two busy processes on few cores: spin-waiting OpenMP threads slow each other down badly. Set
# before torch loads (every entry point imports pipeline first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
