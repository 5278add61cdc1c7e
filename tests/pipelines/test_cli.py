"""The thin CLI: generate -> render on a generated video, and clear errors."""

import av
import pytest

from hf_livechat.cli import main
from hf_livechat.pipelines.writers import read_comments_json


def test_generate_then_render(model_dir, stream, tmp_path, capsys):
    out = tmp_path / "out" / "vod"
    assert main(["generate", str(stream / "vod.mp4"), "--model", str(model_dir), "--chat", str(stream / "chat.json"), "--transcript", str(stream / "speech.srt"), "-o", str(out), "--stride", "10", "--num-beams", "2"]) == 0
    comments = read_comments_json(out.with_suffix(".json"))
    assert [c["time"] for c in comments] == [20.0, 30.0, 40.0]
    assert out.with_suffix(".ass").is_file() and out.with_suffix(".srt").is_file()
    assert main(["render", str(stream / "vod.mp4"), str(out.with_suffix(".json")), "-o", str(tmp_path / "rendered.mp4")]) == 0
    with av.open(str(tmp_path / "rendered.mp4")) as container:
        assert container.streams.video and container.streams.audio


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("not a chat log\n")
    assert main(["read-chat", str(tmp_path / "x.txt")]) == 2
    assert "unrecognised chat log format" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate"])
