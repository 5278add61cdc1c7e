"""`hf-livechat`: a thin command line over the package. Each subcommand parses its arguments and calls one function
of the package; the commands live in one module per group (data, livechat, lcaffect, live)."""

from __future__ import annotations

import argparse
import sys

from . import data, lcaffect, live, livechat


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-livechat", description="Live-comment modelling for the Hugging Face ecosystem.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (data, livechat, lcaffect, live):
        group.add_parsers(sub)
    return parser


def _quiet_model_loading() -> None:
    """transformers draws a bar for every model it loads or saves ("Loading weights", "Writing model shards"): noise
    in a command that loads several; the commands' own bars (VODs, training steps) stay."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    from ..data.backbones import FeatureModelError

    args = build_parser().parse_args(argv)
    _quiet_model_loading()
    try:
        args.func(args)
    except FeatureModelError as error:  # nothing could be built
        print(f"hf-livechat {args.command}: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as error:
        print(f"hf-livechat {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
