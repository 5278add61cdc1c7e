"""Live test media: H.264 + AAC streams written as HLS segments or one MPEG-TS file, with video and audio
interleaved as a live encoder sends them. The picture is `colour_at(second)`; the sound is a stepped tone or any
16 kHz mono array (synthesised speech)."""

import http.server
import threading
import time
from functools import partial
from pathlib import Path

import av
import numpy as np
from media_fixtures import colour_at, sine_tone


def write_live_media(path, seconds: int, fps: int = 4, size: int = 64, audio: np.ndarray | None = None, segment: float = 2.0) -> Path:
    """`path` ending in `.m3u8`: HLS with `segment`-second MPEG-TS segments (a keyframe starts each); else one
    MPEG-TS file. `audio`: 16 kHz mono float32 (default: the stepped tone)."""
    path = Path(path)
    options = {"hls_time": str(segment), "hls_list_size": "0", "hls_playlist_type": "vod"} if path.suffix == ".m3u8" else {}
    audio = sine_tone(seconds) if audio is None else np.pad(audio, (0, max(0, seconds * 16000 - audio.size)))[: seconds * 16000]
    with av.open(str(path), "w", format="hls" if path.suffix == ".m3u8" else "mpegts", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "g": str(int(fps * segment)), "keyint_min": str(int(fps * segment)), "sc_threshold": "0"}
        sound = container.add_stream("aac", rate=16000)
        sound.layout = "mono"
        converter = av.AudioResampler(format=sound.codec_context.codec.audio_formats[0].name, layout="mono", rate=16000)
        chunk, offset = 1024, 0
        for index in range(seconds * fps):
            image = np.empty((size, size, 3), dtype=np.uint8)
            image[:] = colour_at(index // fps)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
            while offset < min(audio.size, (index + 1) * 16000 // fps):  # audio up to this frame's end
                piece = av.AudioFrame.from_ndarray(audio[None, offset : offset + chunk], format="fltp", layout="mono")
                piece.sample_rate, piece.pts = 16000, offset
                for converted in converter.resample(piece):
                    container.mux(sound.encode(converted))
                offset += chunk
        container.mux(video.encode())
        container.mux(sound.encode())
    return path


class LiveHLS:
    """Serves an HLS recording from `folder` as a live stream: the playlist lists only the segments whose end the
    stream has reached (`speed` times real time) and gets its ENDLIST with the last one."""

    def __init__(self, folder, speed=4.0):
        self.folder = folder
        header, self.segments = [], []
        lines = (folder / "live.m3u8").read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("#EXTINF"):
                self.segments.append((float(line.split(":")[1].rstrip(",")), lines[i + 1]))
            elif line.startswith("#EXT-X-TARGETDURATION"):
                header.append("#EXT-X-TARGETDURATION:1")  # reload often: the stream plays faster than real time
            elif line.startswith("#EXT") and "ENDLIST" not in line:
                header.append(line)
        self.header, self.speed, self.started = header, speed, None
        hls = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.startswith("/live.m3u8"):
                    body = hls.playlist().encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/vnd.apple.mpegurl")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    super().do_GET()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/live.m3u8"

    def playlist(self):
        self.started = self.started or time.monotonic()
        played = (time.monotonic() - self.started) * self.speed
        lines, end = list(self.header), 0.0
        for duration, name in self.segments:
            if end > 0 and end + duration > played:
                break
            lines += [f"#EXTINF:{duration:.6f},", name]
            end += duration
        if end >= sum(d for d, _ in self.segments) - 1e-6:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def close(self):
        self.server.shutdown()
