#!/usr/bin/env python
"""Export a trained checkpoint as a pickle-free folder (config.json, model.safetensors,
normalizer.safetensors, README.md model card) that ACTPolicy.from_pretrained loads; see docs/export.md.

    python scripts/export_policy.py --checkpoint runs/<run>/checkpoints/best.pth --output exports/<name> \\
        --eval_result results/<result>.json
"""

from __future__ import annotations

import json
import sys

from pipeline.cli import Parser, read_json_files


def main(argv: list[str] | None = None) -> int:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    parser.add_argument("--output", required=True, help="folder to write (must not exist unless --overwrite)")
    parser.add_argument("--eval_result", help="results JSON of scripts/evaluate_act_proper.py for the model card")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    args = parser.parse_args(argv)

    from evaluation.export import export_policy
    from training.checkpoint import CheckpointError

    eval_result = None
    if args.eval_result is not None:
        loaded = read_json_files([args.eval_result])
        if loaded is None:
            return 2
        eval_result = loaded[0]
        if not isinstance(eval_result, dict):
            parser.error(f"{args.eval_result}: not an evaluation result file")
    try:
        output = export_policy(args.checkpoint, args.output, overwrite=args.overwrite, eval_result=eval_result)
    except (CheckpointError, FileExistsError, ValueError) as error:
        parser.error(str(error))
    except OSError as error:
        parser.error(f"cannot write {args.output}: {error.strerror or error}")
    print(json.dumps({"output": str(output), "files": sorted(p.name for p in output.iterdir())}))
    return 0



def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
