"""The procedural stream world behind the quickstart: streams whose chat is predictable from video, speech and chat.

``vocabulary`` holds its words, ``generate_world`` builds the world as data; ``write_stream`` / ``make_streams`` render it into real files (mp4
with audio, SRT transcript, TwitchDownloader chat JSON, ground-truth log, manifest).
"""

from .vocabulary import MODALITIES
from .world import (
    CommentOrigin,
    Cue,
    Episode,
    ScreenEvent,
    SpeechLine,
    Stream,
    generate_world,
)
from .world_config import ACTIVITY_KNOBS, WORLD_VARIANTS, WorldConfig
from .writer import MediaSpec, StreamFiles, make_streams, write_stream

__all__ = [
    "ACTIVITY_KNOBS",
    "MODALITIES",
    "CommentOrigin",
    "Cue",
    "Episode",
    "MediaSpec",
    "ScreenEvent",
    "SpeechLine",
    "Stream",
    "StreamFiles",
    "WORLD_VARIANTS",
    "WorldConfig",
    "generate_world",
    "make_streams",
    "write_stream",
]
