"""End-to-end dataset build: generated video with audio + SRT + TwitchDownloader chat -> Parquet -> load_dataset."""

import json
import multiprocessing
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from media_fixtures import colour_at, write_not_media, write_test_video

from hf_livechat.data.builders.livechat import BuildOptions, build_livechat_dataset
from hf_livechat.data.builders.manifest import ManifestError, read_manifest
from hf_livechat.data.chat import ChatFilters, ChatMessage, Emote, write_twitch_json
from hf_livechat.data.clips import ClipConfig
from hf_livechat.data.transcripts import TranscriptSegment, write_srt


SECONDS = 65


def mean_colour_encoder(frames: np.ndarray) -> np.ndarray:
    """A transparent stand-in encoder: the mean RGB of each frame (lets the test check which frame was taken)."""
    return frames.reshape(len(frames), -1, 3).mean(1).astype(np.float32)


def write_vod(folder: Path, name: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    write_test_video(folder / f"{name}.mp4", seconds=SECONDS, fps=4, width=32, height=32)
    messages = []
    for t in np.sort(rng.uniform(0, SECONDS, 160)):
        messages.append(ChatMessage(float(round(t, 2)), f"user{rng.integers(9)}", f"comment at {t:.1f} Kappa", (Emote("Kappa", len(f"comment at {t:.1f} "), len(f"comment at {t:.1f} Kappa")),)))
    messages.append(ChatMessage(12.0, "nightbot", "follow the stream"))
    messages.append(ChatMessage(13.0, "viewer", "!uptime"))
    write_twitch_json(messages, folder / f"{name}.json", video_id=name, streamer="streamer_" + name)
    write_srt([TranscriptSegment(s, s + 4.0, f"speech from {s} to {s + 4}") for s in range(0, SECONDS - 4, 5)], folder / f"{name}.srt")
    return {"vod_id": name, "video": f"{name}.mp4", "chat": f"{name}.json", "transcript": f"{name}.srt", "streamer": "streamer_" + name, "category": "Just Chatting"}


@pytest.fixture(scope="module")
def vod_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vods")
    rows = [write_vod(folder, f"vod{i}", seed=i) for i in range(3)]
    rows[2]["split"] = "test"
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


ALL_CLIPS = BuildOptions(clips=ClipConfig(selection="all"))


def test_build_end_to_end_and_load_dataset(vod_folder, tmp_path):
    out = tmp_path / "dataset"
    summary = build_livechat_dataset(vod_folder / "manifest.jsonl", out, ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    assert summary.vods_done == 3 and not summary.vods_skipped
    assert summary.chat.dropped["bot"] == 3 and summary.chat.dropped["command"] == 3
    assert summary.hours == pytest.approx(3 * SECONDS / 3600, rel=0.02)

    dataset = load_dataset(str(out))
    assert "test" in dataset and sum(len(split) for split in dataset.values()) == 6  # 2 full 30 s clips per VOD
    assert set(dataset["test"]["vod_id"]) == {"vod2"}
    for split in dataset.values():
        for row in split:
            assert row["end"] - row["start"] == 30 and row["context_end"] - row["start"] == 20
            # No input lies past the context window.
            assert row["input_end"] == row["context_end"]
            assert row["frame_times"] == [row["start"] + k for k in range(20)]
            assert all(seg["end"] <= row["context_end"] + 1e-4 for seg in row["transcript_segments"])
            assert all(row["start"] <= c["time"] < row["context_end"] for c in row["context_comments"])
            assert row["response_comments"] and all(row["context_end"] <= c["time"] < row["end"] for c in row["response_comments"])
            features = np.asarray(row["video_features"])
            assert features.shape == (20, 3)
            # Frame k of the clip shows the colour of second start + k.
            expected = np.asarray([colour_at(int(t)) for t in row["frame_times"]], dtype=np.float32)
            assert np.abs(features - expected).max() < 12
            assert all(c["author"] != "nightbot" and not c["text"].startswith("!") for c in row["context_comments"])
            emote = row["context_comments"][0]["emotes"][0]
            assert row["context_comments"][0]["text"][emote["start"] : emote["end"]] == "Kappa"
    card = (out / "README.md").read_text()
    assert "configs:" in card and "data/test/*.parquet" in card and "video_features" in card


def test_paper_input_span_reproduces_the_overlap(vod_folder, tmp_path):
    options = BuildOptions(clips=ClipConfig(selection="all", input_span="paper"))
    build_livechat_dataset(vod_folder / "manifest.jsonl", tmp_path / "paper", options, frame_encoder=mean_colour_encoder, progress=False)
    row = load_dataset(str(tmp_path / "paper"))["test"][0]
    assert len(row["frame_times"]) == 30 and row["input_end"] == row["end"]
    assert "input span | the whole clip" in (tmp_path / "paper" / "README.md").read_text()


def test_bad_vod_is_skipped_and_reported_without_losing_others(vod_folder, tmp_path):
    folder = tmp_path / "vods"
    shutil.copytree(vod_folder, folder)
    write_not_media(folder / "broken.mp4")
    (folder / "broken.json").write_text((folder / "vod0.json").read_text())
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    rows.insert(1, {"vod_id": "broken", "video": "broken.mp4", "chat": "broken.json"})
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    summary = build_livechat_dataset(folder / "manifest.jsonl", tmp_path / "out", ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    assert summary.vods_done == 3 and list(summary.vods_skipped) == ["broken"]
    assert "broken.mp4" in summary.vods_skipped["broken"]
    assert "skipped VOD broken" in summary.format()
    with pytest.raises(ValueError, match="broken.mp4"):
        build_livechat_dataset(folder / "manifest.jsonl", tmp_path / "strict", ALL_CLIPS, on_error="raise", frame_encoder=mean_colour_encoder, progress=False)


def _slow_encoder(frames):
    time.sleep(0.4)
    return mean_colour_encoder(frames)


def _build_in_child(manifest, out):
    build_livechat_dataset(manifest, out, ALL_CLIPS, frame_encoder=_slow_encoder, progress=False)


def test_killed_build_resumes_to_the_same_dataset(vod_folder, tmp_path):
    reference = tmp_path / "reference"
    build_livechat_dataset(vod_folder / "manifest.jsonl", reference, ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)

    out = tmp_path / "resumed"
    child = multiprocessing.get_context("fork").Process(target=_build_in_child, args=(vod_folder / "manifest.jsonl", out))
    child.start()
    deadline = time.time() + 60
    while time.time() < deadline and not list((out / "data").rglob("*.parquet")):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    written = sorted(p.name for p in (out / "data").rglob("*.parquet"))
    assert 1 <= len(written) < 3, written  # killed part-way

    summary = build_livechat_dataset(vod_folder / "manifest.jsonl", out, ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    assert summary.vods_done == 3
    assert not list(out.rglob("*.tmp"))
    expected, resumed = load_dataset(str(reference)), load_dataset(str(out))
    for split in expected:
        a = sorted(expected[split].to_list(), key=lambda r: r["clip_id"])
        b = sorted(resumed[split].to_list(), key=lambda r: r["clip_id"])
        assert a == b


def test_restart_with_other_options_is_refused(vod_folder, tmp_path):
    build_livechat_dataset(vod_folder / "manifest.jsonl", tmp_path / "out", ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    with pytest.raises(ValueError, match="other options"):
        build_livechat_dataset(vod_folder / "manifest.jsonl", tmp_path / "out", BuildOptions(filters=ChatFilters.keep_all()), progress=False)


def test_manifest_formats_and_errors(vod_folder, tmp_path):
    assert [s.vod_id for s in read_manifest(vod_folder)] == ["vod0", "vod1", "vod2"]  # folder paired by name
    csv = tmp_path / "m.csv"
    csv.write_text(f"video,chat,streamer\n{vod_folder}/vod0.mp4,{vod_folder}/vod0.json,alice\n")
    (source,) = read_manifest(csv)
    assert source.streamer == "alice" and source.transcript is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"video": "missing.mp4", "chat": "x.json"}\n')
    with pytest.raises(ManifestError, match=r"bad.jsonl:1: video file not found"):
        read_manifest(bad)


def test_same_named_dataset_folders_do_not_share_the_datasets_cache(vod_folder, tmp_path):
    # `datasets` keys its cache of a local folder on the folder's name and card, not on the files' paths.
    sources = read_manifest(vod_folder / "manifest.jsonl")
    build_livechat_dataset(sources, tmp_path / "a" / "dataset", ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    build_livechat_dataset(sources[:1], tmp_path / "b" / "dataset", ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    sizes = [sum(len(s) for s in load_dataset(str(tmp_path / name / "dataset")).values()) for name in ("a", "b")]
    assert sizes == [6, 2]


def test_built_dataset_loads_by_repo_id_from_an_offline_hub_cache(vod_folder, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "dataset"
    build_livechat_dataset(vod_folder / "manifest.jsonl", out, ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "datasets--org--livechat-clips"
    shutil.copytree(out, repo / "snapshots" / commit, ignore=shutil.ignore_patterns("build_state.json"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    # The training and evaluation loaders resolve a Hub id through the Hub cache, as `AutoModel` does.
    splits = sorted(load_dataset(str(out)))
    code = (
        "from hf_livechat.data.clip_dataset import dataset_build_info, load_clip_dataset; "
        f"print(sorted((k, len(load_clip_dataset('org/livechat-clips', k))) for k in {splits})); "
        "print(sorted(dataset_build_info('org/livechat-clips').items()))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = sorted((k, len(v)) for k, v in load_dataset(str(out)).items())
    from hf_livechat.data.clip_dataset import dataset_build_info

    info = dataset_build_info(str(out))
    assert info  # the card's build block: what train reads to configure the model
    assert result.stdout.strip().splitlines() == [str(expected), str(sorted(info.items()))]


def test_the_feature_model_travels_from_the_card_to_the_model_config(vod_folder, tmp_path):
    from hf_livechat.tokenization import default_tokenizer
    from hf_livechat.training.train import LiveChatRecipeArguments, build_config

    options = BuildOptions(clips=ClipConfig(selection="all"), feature_model="efficientnet-lite0", frame_size=96)
    build_livechat_dataset(vod_folder / "manifest.jsonl", tmp_path / "d", options, frame_encoder=mean_colour_encoder, progress=False)
    config = build_config(LiveChatRecipeArguments(dataset_dir=str(tmp_path / "d"), config="tiny"), default_tokenizer(), 3)
    assert (config.feature_model, config.frame_size, config.video_feature_dim) == ("efficientnet-lite0", 96, 3)


class ThreadProcesses:
    """What `accelerate.PartialState` offers a multi-process build, for processes played by threads."""

    def __init__(self, process_index: int, barrier):
        self.process_index, self.num_processes, self.barrier = process_index, barrier.parties, barrier

    def wait_for_everyone(self):
        self.barrier.wait(timeout=60)


def _sorted_rows(folder):
    dataset = load_dataset(str(folder))
    return {split: sorted(dataset[split].to_list(), key=lambda r: r["clip_id"]) for split in dataset}


def test_processes_share_the_vods_and_build_the_same_dataset(vod_folder, tmp_path):
    import threading

    reference = tmp_path / "reference"
    build_livechat_dataset(vod_folder / "manifest.jsonl", reference, ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)

    out, barrier, summaries, built = tmp_path / "shared", threading.Barrier(2), {}, {}

    def run(rank):
        def encoder(frames):  # records which process encoded which frames
            built.setdefault(rank, 0)
            built[rank] += len(frames)
            return mean_colour_encoder(frames)

        summaries[rank] = build_livechat_dataset(
            vod_folder / "manifest.jsonl", out, ALL_CLIPS, frame_encoder=encoder, progress=False,
            processes=ThreadProcesses(rank, barrier),
        )

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(built) == {0, 1}  # both processes did work
    assert summaries[0].vods_done == summaries[1].vods_done == 3
    assert summaries[0].examples == summaries[1].examples
    assert not list(out.glob("build_state.part-*.json"))  # merged into build_state.json
    assert set(json.loads((out / "build_state.json").read_text())["vods"]) == {"vod0", "vod1", "vod2"}
    assert _sorted_rows(out) == _sorted_rows(reference)


def test_a_multi_process_build_cut_short_resumes_with_one_process(vod_folder, tmp_path):
    import threading

    out = tmp_path / "out"
    # Process 1 of 2 finishes its VOD (vod1) and is killed before the main process merges the state; process 0
    # never ran.
    lone = ThreadProcesses(1, threading.Barrier(2))
    lone.wait_for_everyone = lambda: None
    build_livechat_dataset(vod_folder / "manifest.jsonl", out, ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False, processes=lone)
    assert sorted(p.stem for p in (out / "data").rglob("*.parquet")) == ["vod1"]
    assert [p.name for p in out.glob("build_state*.json")] == ["build_state.part-1-of-2.json"]

    encoded = []
    summary = build_livechat_dataset(
        vod_folder / "manifest.jsonl", out, ALL_CLIPS, progress=False,
        frame_encoder=lambda frames: encoded.append(len(frames)) or mean_colour_encoder(frames),
    )
    assert summary.vods_done == 3
    assert sum(encoded) > 0 and not list(out.glob("build_state.part-*.json"))
    assert json.loads((out / "build_state.json").read_text())["vods"]["vod1"]["built_by"] == "process 1 of 2"
    reference = tmp_path / "reference"
    build_livechat_dataset(vod_folder / "manifest.jsonl", reference, ALL_CLIPS, frame_encoder=mean_colour_encoder, progress=False)
    assert _sorted_rows(out) == _sorted_rows(reference)


@pytest.mark.slow  # two processes import torch and load the backbone: ~40 s on 2 shared cores
def test_two_launched_processes_build_the_same_dataset_as_one(vod_folder, tmp_path):
    import subprocess
    import sys

    def build(out, *launcher):
        command = [*launcher, "-m", "hf_livechat.cli", "build-dataset", str(vod_folder / "manifest.jsonl"), "--out", str(out),
                   "--feature-model", "efficientnet-lite0", "--frame-size", "64", "--selection", "all"]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        return result.stdout

    # torchrun, as `accelerate launch --cpu` starts a single process (accelerate 1.x); on GPUs both work the same.
    launched = build(tmp_path / "two", sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                     "--master_port", "29531")
    assert launched.count("built 3 VODs") == 1, launched  # one summary, from the main process
    records = json.loads((tmp_path / "two" / "build_state.json").read_text())["vods"]
    assert {r["built_by"] for r in records.values()} == {"process 0 of 2", "process 1 of 2"}
    build(tmp_path / "one", sys.executable)
    two, one = _sorted_rows(tmp_path / "two"), _sorted_rows(tmp_path / "one")
    assert two.keys() == one.keys()
    for split in one:
        assert [r["clip_id"] for r in two[split]] == [r["clip_id"] for r in one[split]]
        for a, b in zip(two[split], one[split]):
            np.testing.assert_allclose(np.asarray(a["video_features"]), np.asarray(b["video_features"]), atol=1e-4)
