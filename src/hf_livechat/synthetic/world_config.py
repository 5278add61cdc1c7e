"""The knobs of the procedural stream world (`WorldConfig`) and the family of worlds the training defaults are
chosen on (`WORLD_VARIANTS`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


CUE_PLACEMENTS = ("early", "anywhere")


def is_hype(key: str, share: float) -> bool:
    """Whether cue `key` is one of the `share` of keys that excite chat (`WorldConfig.hype_share`): a hash of the key,
    the same in every stream and world."""
    if share <= 0:
        return False
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=b"hype").digest()
    return int.from_bytes(digest, "little") / 2**64 < share
SCENE_STYLES = ("classic", "neon")


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of the world. The defaults are what the quickstart relies on.

    Attributes:
        episode_seconds: length of one episode; episodes start at 0, episode_seconds, 2 * episode_seconds, ...
        context_seconds: the context window at the start of each episode; the rest is the response window.
        cue_rate: probability that a modality carries a cue in an episode (at least one always does).
        max_cues: at most this many modalities carry a cue in one episode (a random subset of those drawn). With 1,
            each episode's targets answer one modality and every modality drives about a third of them. With more,
            the `livechat` protocol's ground truth (the response most TF-IDF-similar to the context) is seldom a
            video reaction, since topic and chat replies share their marker word with the context and reactions do
            not: video then decides few evaluation queries.
        responses_per_cue: inclusive range of how many response comments each cue gets.
        filler_rate: background messages per second in the context windows. The `livechat` protocol's distractors
            are the comments of the same video most TF-IDF-similar to a clip's context, and a clip's own filler
            matches its context best: with much filler, most distractors are filler that no target resembles and
            even a model without the cue's modality ranks the answer first.
        response_filler_rate: background messages per second in the response windows (unpredictable targets).
        response_emote_rate: probability that a response comment ends with a decorative emote. An emote is
            unpredictable, and its word pieces lower a target's length-normalised likelihood whatever the inputs.
        bot_rate: probability that an episode has a bot command (with a URL reply) in its context window.
        viewers: how many distinct viewers a stream has.
        cue_placement: ``"early"`` puts each cue near the start of the context window (events from second 1 to 4,
            copypastas in its last 9 s); ``"anywhere"`` draws the cue's onset anywhere in the context window, so the
            delay between a cue and the replies to it ranges from under a second to the whole window.
        paraphrase_rate: probability that a reply relates to its cue without repeating the cue's marker word
            (``"pepperoni"`` for the topic ``pizza``, ``"its a keychron"`` for the keyboard question): the model must
            know what goes with what, and TF-IDF no longer finds the answer by its words.
        invented_rate: probability that a chat cue is made of tokens that exist nowhere else: a meme word born in
            this episode (``"zorblem gang rise up"``) or a new viewer with an invented name to greet
            (``"welcome Zorblem_tv"``). The replies must copy the token from the context chat.
        scene_style: how the writer draws the screen (``"classic"`` or ``"neon"``: other colours and textures for the
            same event kinds); the world itself does not depend on it.
        paraphrase_every_cue: paraphrases cover every kind of cue, so that with ``paraphrase_rate=1`` no reply
            repeats its cue's marker: a copypasta is answered by an associated word in its shape (``"toast gang rise
            up"`` for bread), an invented meme or greeting by a line without the invented token (``"new meme just
            dropped"``, ``"welcome new friend"``). Off, copypastas and invented tokens are always copied.
        template_rate: long templated comments per second, in the context and the response windows alike (6 fixed
            lines of 9 to 11 words, ``"this stream is genuinely the greatest thing on the internet right now"``),
            logged as ``filler``: they answer no cue, but a model scoring by plain likelihood ranks such frequent,
            fully predictable lines first. A response-window template is one its episode's context did not hold.
        cue_recurrence: how many times each topic, chat thread and event kind drawn in a stream is used (1: a topic or
            thread at most once per stream, events cycling through every kind before one repeats). Above 1, cues are
            dealt two at a time and their uses shuffled, so the same cue comes back a few episodes later and comments
            of other episodes of the same video may answer the same cue.
        positional_events: the screen shows one of 4 objects (orb, crown, skull, gem) in one of 6 places (left,
            centre, right x top, bottom) instead of a full-frame scene, and each (object, place) pair is an event of
            its own with its own marker word (a skull top left is ``"ghost"``, bottom right ``"goblin"``): the same
            object means different events at different places.
        quiet_rate: probability that an episode carries no cue at all: its response window holds only background
            (none in most worlds), so chat goes quiet between reactions as real chat does.
        hype_share: share of cue keys (event kinds, topics, chat threads) that excite chat: a cue whose key is one of
            them gets `hype_responses` replies instead of `responses_per_cue`. Which keys they are is fixed across
            streams (a hash of the key), so how loud the next window will be can be learned from what the context
            shows, says or writes.
        hype_responses: inclusive range of how many replies a hype cue gets.
    """

    episode_seconds: float = 30.0
    context_seconds: float = 20.0
    cue_rate: float = 0.5
    max_cues: int = 1
    responses_per_cue: tuple[int, int] = (2, 3)
    filler_rate: float = 0.03
    response_filler_rate: float = 0.0
    response_emote_rate: float = 0.15
    bot_rate: float = 0.25
    viewers: int = 40
    cue_placement: str = "early"
    paraphrase_rate: float = 0.0
    invented_rate: float = 0.0
    scene_style: str = "classic"
    paraphrase_every_cue: bool = False
    template_rate: float = 0.0
    cue_recurrence: int = 1
    positional_events: bool = False
    quiet_rate: float = 0.0
    hype_share: float = 0.0
    hype_responses: tuple[int, int] = (6, 9)

    def __post_init__(self) -> None:
        if not 0 < self.context_seconds < self.episode_seconds:
            raise ValueError(f"need 0 < context_seconds < episode_seconds, got {self.context_seconds}, "
                             f"{self.episode_seconds}")
        if self.episode_seconds - self.context_seconds < 2:
            raise ValueError("the response window must last at least 2 s")
        if self.context_seconds < 12:
            raise ValueError("the context window must last at least 12 s to hold an event and a topic")
        if self.viewers < 5:
            raise ValueError(f"a stream needs at least 5 viewers, got {self.viewers}")
        if not 0 < self.cue_rate <= 1:
            raise ValueError(f"cue_rate must be in (0, 1], got {self.cue_rate}")
        if self.max_cues not in (1, 2, 3):
            raise ValueError(f"max_cues must be 1, 2 or 3, got {self.max_cues}")
        if not 0 <= self.response_emote_rate <= 1:
            raise ValueError(f"response_emote_rate must be in [0, 1], got {self.response_emote_rate}")
        if self.cue_placement not in CUE_PLACEMENTS:
            raise ValueError(f"cue_placement must be one of {CUE_PLACEMENTS}, got {self.cue_placement!r}")
        if self.scene_style not in SCENE_STYLES:
            raise ValueError(f"scene_style must be one of {SCENE_STYLES}, got {self.scene_style!r}")
        for name in ("paraphrase_rate", "invented_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.filler_rate < 0 or self.response_filler_rate < 0 or self.template_rate < 0:
            raise ValueError("filler and template rates must be >= 0")
        if not 1 <= self.cue_recurrence <= 6:
            raise ValueError(f"cue_recurrence must be in 1..6, got {self.cue_recurrence}")
        for name in ("responses_per_cue", "hype_responses"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(f"{name} must be 1 <= low <= high, got {getattr(self, name)}")
        for name in ("quiet_rate", "hype_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")


# The world family the training defaults are chosen on: the quickstart's world and variants that each break one of
# its conveniences. ``hf-livechat make-stream --variant NAME`` writes one.
WORLD_VARIANTS: dict[str, WorldConfig] = {
    "quickstart": WorldConfig(),
    # Filler is about half the chat, targets include unpredictable filler, cues start anywhere, other visuals.
    "noisy": WorldConfig(filler_rate=0.4, response_filler_rate=0.12, cue_placement="anywhere", scene_style="neon"),
    # Up to three overlapping cues per episode, half the replies paraphrase their cue.
    "overlap": WorldConfig(max_cues=3, cue_rate=0.6, paraphrase_rate=0.5, cue_placement="anywhere", filler_rate=0.15),
    # Invented memes and names to copy from the chat, some paraphrases, moderate filler, other visuals.
    "copy": WorldConfig(invented_rate=0.6, paraphrase_rate=0.25, filler_rate=0.2, response_filler_rate=0.05,
                        cue_placement="anywhere", scene_style="neon"),
    # Every reply names a related word, never the shown / spoken / asked one.
    "related": WorldConfig(paraphrase_rate=1.0, paraphrase_every_cue=True),
    # Long templated comments everywhere, about 40 % of the response-window comments, answering nothing.
    "prior": WorldConfig(template_rate=0.17),
    # Each topic, chat thread and event kind comes back 3 times per stream.
    "recurring": WorldConfig(cue_recurrence=3),
    # Events told apart by where an object is on screen (4 objects x 6 places, a marker word per pair).
    "position": WorldConfig(positional_events=True),
    # About half the response-window comments are unpredictable filler.
    "halfnoise": WorldConfig(response_filler_rate=0.25),
}

# Chat that goes quiet and bursts, on top of any world of the family (`make-stream --activity`): a third of the
# episodes carry no cue, and a third of the cue keys draw 6 to 9 replies instead of 2 to 3. The family's worlds keep
# one cue in every episode and 2 to 3 replies per cue, so how many comments come next is a coin toss there.
ACTIVITY_KNOBS = dict(quiet_rate=0.35, hype_share=0.35, hype_responses=(6, 9))
