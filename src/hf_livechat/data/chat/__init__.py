"""Chat logs of live streams, read into one record type (torch-free).

``read_chat(path)`` reads Twitch VOD chat JSON (TwitchDownloader, Twitch-Chat-Downloader), chat-downloader JSON,
Twitch IRC logs, YouTube live-chat replays (yt-dlp ``live_chat.json`` or an innertube response) and Bilibili
danmaku XML, detecting the format from the content. ``ChatFilters`` holds the clean-up steps, ``ChatStats`` counts
what was kept, dropped and skipped, and the writers produce Twitch JSON, IRC logs and danmaku XML.
"""

from .bilibili import advanced_danmaku_text, write_bilibili_xml
from .detect import CHAT_FORMATS, detect_chat_format
from .errors import ChatFormatError
from .filters import DEFAULT_BOTS, ChatFilters, replace_spans
from .message import ChatMessage, Emote
from .reader import read_chat
from .stats import ChatStats
from .twitch_irc import write_irc_log
from .twitch_json import write_twitch_json

__all__ = [
    "CHAT_FORMATS",
    "DEFAULT_BOTS",
    "ChatFilters",
    "ChatFormatError",
    "ChatMessage",
    "ChatStats",
    "Emote",
    "advanced_danmaku_text",
    "detect_chat_format",
    "read_chat",
    "replace_spans",
    "write_bilibili_xml",
    "write_irc_log",
    "write_twitch_json",
]
