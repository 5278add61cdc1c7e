#!/usr/bin/env bash
# Build a LiveChat dataset from real Twitch VODs: chat JSON with TwitchDownloaderCLI, the video with yt-dlp, then
# `hf-livechat build-dataset`. Runs where those tools are installed and twitch.tv is reachable (it is not tested in
# CI, which has neither).
#
#   dataset_scripts/build_from_twitch_vods.sh OUT_DIR VOD_ID [VOD_ID ...]
#
# Environment:
#   CATEGORY        category written to every manifest row (e.g. "Just Chatting"; default empty)
#   FEATURE_MODEL   frame feature model for build-dataset (default efficientnet-lite0, offline; or a timm/HF id)
#   ASR_MODEL       Whisper checkpoint to transcribe the streamer's speech (default: no transcript)
#   VIDEO_FORMAT    yt-dlp format (default: at most 480p; frames are scaled to 224 px, and smaller videos decode faster)
#
# Downloads already present in OUT_DIR/raw are kept, so an interrupted run can simply be started again; the build
# itself resumes too.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 OUT_DIR VOD_ID [VOD_ID ...]" >&2
    exit 2
fi
for tool in TwitchDownloaderCLI yt-dlp hf-livechat python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed (see dataset_scripts/README.md)" >&2; exit 1; }
done

out_dir=$1
shift
raw="$out_dir/raw"
mkdir -p "$raw"
manifest="$raw/manifest.jsonl"
: >"$manifest"

for vod_id in "$@"; do
    if [[ ! -s "$raw/$vod_id.json" ]]; then
        TwitchDownloaderCLI chatdownload --id "$vod_id" -o "$raw/$vod_id.json.part"
        mv "$raw/$vod_id.json.part" "$raw/$vod_id.json"
    fi
    if [[ ! -s "$raw/$vod_id.mp4" ]]; then
        yt-dlp -f "${VIDEO_FORMAT:-bv*[height<=480]+ba/b[height<=480]/b}" --merge-output-format mp4 \
            -o "$raw/$vod_id.%(ext)s" "https://www.twitch.tv/videos/$vod_id"
    fi
    # One manifest row per VOD; the streamer's name comes from the chat JSON (TwitchDownloader's "streamer" block).
    python3 - "$raw/$vod_id.json" "$vod_id" "${CATEGORY:-}" >>"$manifest" <<'EOF'
import json, sys
chat_path, vod_id, category = sys.argv[1:]
with open(chat_path, encoding="utf-8") as handle:
    streamer = (json.load(handle).get("streamer") or {}).get("name") or ""
row = {"vod_id": vod_id, "video": f"{vod_id}.mp4", "chat": f"{vod_id}.json", "streamer": streamer, "category": category}
print(json.dumps(row, ensure_ascii=False))
EOF
done

hf-livechat build-dataset "$manifest" --out "$out_dir/dataset" \
    --feature-model "${FEATURE_MODEL:-efficientnet-lite0}" ${ASR_MODEL:+--asr-model "$ASR_MODEL"}
echo "dataset written to $out_dir/dataset (datasets.load_dataset(\"$out_dir/dataset\"))"
