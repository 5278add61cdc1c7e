"""Convert the Twitch-FIFA release (Pasunuru & Bansal, EMNLP 2018) into a LiveChat clip dataset.

    python dataset_scripts/twitch_fifa.py DATA_DIR --out DIR [--splits train val test] [--fps 3]
                                          [--context-seconds 20] [--response-seconds 10] [--rows-per-shard 1000]

DATA_DIR is the unpacked "processed dataset" of github.com/ramakanth-pasunuru/video-dialogue (Google Drive link in
its README): `{train,val,test}_word.json` and `{train,val,test}_video_feat.h5`. The result loads with
`datasets.load_dataset(DIR)` (splits train/validation/test) and trains with `hf-livechat train`. The source format,
and which parts of it are assumed, are described in `hf_livechat.data.benchmarks.twitch_fifa` and
dataset_scripts/README.md. Needs `h5py`.
"""

import argparse
import sys

from hf_livechat.data.benchmarks.twitch_fifa import (
    DEFAULT_CONTEXT_SECONDS,
    DEFAULT_FPS,
    DEFAULT_RESPONSE_SECONDS,
    SOURCE_SPLITS,
    TwitchFifaFormatError,
    TwitchFifaOptions,
    convert_twitch_fifa,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", help="folder with {split}_word.json and {split}_video_feat.h5")
    parser.add_argument("--out", required=True, help="dataset folder to write")
    parser.add_argument("--splits", nargs="+", choices=list(SOURCE_SPLITS), help="default: every split present")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, help="frames per second of the feature arrays")
    parser.add_argument("--context-seconds", type=float, default=DEFAULT_CONTEXT_SECONDS)
    parser.add_argument("--response-seconds", type=float, default=DEFAULT_RESPONSE_SECONDS)
    parser.add_argument("--rows-per-shard", type=int, default=1000)
    args = parser.parse_args(argv)

    options = TwitchFifaOptions(fps=args.fps, context_seconds=args.context_seconds, response_seconds=args.response_seconds)
    try:
        summary = convert_twitch_fifa(args.data_dir, args.out, args.splits, options, args.rows_per_shard)
    except TwitchFifaFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary.format())
    print(f"load with: datasets.load_dataset({args.out!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
