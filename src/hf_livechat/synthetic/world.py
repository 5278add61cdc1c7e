"""A procedural world of live streams whose chat can be predicted, each part from exactly one modality.

Every stream is cut into aligned episodes of ``episode_seconds`` (30 s, starting at 0 like the clip grid of
``hf_livechat.data.clips``): a context window of ``context_seconds`` (20 s) followed by a response window (10 s). In
each episode every modality independently carries a *cue* with probability ``WorldConfig.cue_rate`` (at least one
does, at most ``WorldConfig.max_cues``: one by default):

- ``video``: the screen shows an event (``boss``, ``goal``, ``crash``, ...) for 5 to 11 whole seconds of the
  context window. Speech and chat may notice *that* something happens ("no way", "omg look") but never name it.
- ``transcript``: the streamer talks about a topic (``pizza``, ``jazz``, ...): the topic word is said two or three
  times in the context window and never written in the context chat.
- ``chat``: a viewer asks about the streamer's setup (``what keyboard brand is that``; the answer is a fixed fact
  of the world, ``keychron``) or a copypasta wave (``bread gang rise up``) starts; neither is ever said.

The response window then holds only comments answering the episode's cues, each containing its cue's *marker*
word (the event kind, the topic word, the thing asked about, the copypasta word), so a response comment is
predictable from its own modality and from no other. Background filler, bot commands and URLs live in the context
windows, so every response-window comment is a fair target (``WorldConfig.response_filler_rate`` adds
unpredictable filler there too, logged as ``filler``).

Replies of one modality share a few words with that modality's context ("no way"/"omg"/"look" for events,
"best"/"love"/"team" for topics, "setup"/"brand"/"gang" for chat), so the negatives most TF-IDF-similar to a
clip's context are mostly replies to *other* cues of the same modality (filler is kept sparse, since a clip's own
filler would otherwise be its most similar comments): without that modality they cannot be told apart.
Within one stream a topic or chat thread is used at most once and events cycle through all kinds before one
repeats, so a negative taken from another episode of the same stream answers a different cue (unless
``WorldConfig.cue_recurrence`` > 1, which brings each cue back a few times per stream).

The variants' other knobs (``world_config.py``) each break one of these conveniences: paraphrased replies without the
marker, templated comments answering nothing at every moment, events told apart by where the object is on screen.

The world is pure data (no media): ``writer.py`` renders it into files, and ``Stream.ground_truth()`` is the log
of which cue drove which comment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hf_livechat.data.chat.message import ChatMessage, Emote

from .world_config import WorldConfig, is_hype
from .vocabulary import (
    MODALITIES,
    EMOTE_IDS,
    DECORATIVE_EMOTES,
    EVENT_REACTIONS,
    EVENT_HUBBUB,
    EVENT_KINDS,
    TOPIC_CATEGORY,
    TOPIC_INTROS,
    TOPIC_LINES,
    TOPIC_REPLIES,
    QUESTIONS,
    QUESTION_FORMS,
    ANSWER_FORMS,
    COPYPASTA_FORMS,
    CHAT_THREADS,
    FILLER_CHAT,
    FILLER_SPEECH,
    EVENT_EXCLAMATIONS,
    BOT_COMMANDS,
    BOTS,
    URL_SPAM,
    STREAMERS,
    EVENT_ASSOCIATIONS,
    TOPIC_ASSOCIATIONS,
    ASSOCIATION_FORMS,
    FACT_FORMS,
    SYLLABLES,
    GREETING_FORMS,
    WELCOME_FORMS,
    CATEGORIES,
    NAME_PARTS,
    NAME_SUFFIXES,
    COPYPASTA_ASSOCIATIONS,
    MEME_PARAPHRASES,
    GREETING_PARAPHRASES,
    TEMPLATE_COMMENTS,
    POSITIONAL_KINDS,
    POSITIONAL_MARKERS,
    POSITIONAL_REACTION_FORMS,
    OBJECT_ASSOCIATIONS,
    positional_parts,
)



@dataclass(frozen=True)
class ScreenEvent:
    """The screen shows event ``kind`` during ``[start, end)`` seconds."""

    kind: str
    start: float
    end: float


@dataclass(frozen=True)
class SpeechLine:
    """One line the streamer says during ``[start, end)`` seconds (one SRT cue)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Cue:
    """A cue in an episode's context window: which modality carries it, its key (event kind, topic word, chat thread
    id, ``meme:<word>`` or ``greet:<name>``) and its marker, the word every response comment to it contains unless the
    reply is a paraphrase (``WorldConfig.paraphrase_rate``)."""

    modality: str
    key: str
    marker: str


@dataclass(frozen=True)
class Episode:
    """One aligned 30 s clip: context ``[start, context_end)``, response ``[context_end, end)``."""

    index: int
    start: float
    context_end: float
    end: float
    cues: tuple[Cue, ...]


@dataclass(frozen=True)
class CommentOrigin:
    """Why a chat message exists.

    ``role`` is ``"response"`` (answers ``cue`` of ``episode``), ``"cue"`` (starts a chat cue), ``"filler"``
    (background, including the unnamed "no way"/"omg" of an event) or ``"bot"`` (a command, a bot reply or a URL:
    what the dataset filters drop).
    """

    role: str
    episode: int | None
    cue: Cue | None = None


@dataclass(frozen=True)
class Stream:
    """One synthetic VOD: what is on screen, what the streamer says, the chat, and why each message was sent."""

    vod_id: str
    streamer: str
    category: str
    title: str
    duration: float
    split: str
    screen: tuple[ScreenEvent, ...]
    speech: tuple[SpeechLine, ...]
    chat: tuple[ChatMessage, ...]
    origins: tuple[CommentOrigin, ...]  # aligned with ``chat``
    episodes: tuple[Episode, ...]
    config: WorldConfig = field(default_factory=WorldConfig)

    def scene_at(self, time: float) -> str | None:
        """The event kind on screen at ``time`` seconds, or None for plain gameplay."""
        for event in self.screen:
            if event.start <= time < event.end:
                return event.kind
        return None

    def ground_truth(self) -> dict:
        """The log of the world: episodes with their cues, screen events, and each comment's origin (JSON-ready)."""
        return {
            "vod_id": self.vod_id,
            "streamer": self.streamer,
            "category": self.category,
            "split": self.split,
            "duration": self.duration,
            "episode_seconds": self.config.episode_seconds,
            "context_seconds": self.config.context_seconds,
            "episodes": [
                {
                    "index": episode.index,
                    "start": episode.start,
                    "context_end": episode.context_end,
                    "end": episode.end,
                    "cues": [_cue_dict(cue) for cue in episode.cues],
                }
                for episode in self.episodes
            ],
            "screen": [{"kind": e.kind, "start": e.start, "end": e.end} for e in self.screen],
            "comments": [
                {
                    "id": message.source,
                    "time": message.time,
                    "text": message.text,
                    "role": origin.role,
                    "episode": origin.episode,
                    "cue": _cue_dict(origin.cue) if origin.cue else None,
                }
                for message, origin in zip(self.chat, self.origins)
            ],
        }


def _cue_dict(cue: Cue) -> dict:
    return {"modality": cue.modality, "key": cue.key, "marker": cue.marker}


def generate_world(
    num_streams: int,
    duration_s: float,
    seed: int,
    *,
    splits: Mapping[str, float] | None = None,
    config: WorldConfig | None = None,
) -> list[Stream]:
    """Generate ``num_streams`` streams of ``duration_s`` seconds, deterministically from ``seed``.

    Args:
        num_streams: how many VODs.
        duration_s: length of each VOD in seconds (at least one episode).
        seed: the same seed gives the same world.
        splits: split name -> fraction of VODs, assigned by VOD (default 70/15/15 train/validation/test; every
            split with a positive fraction gets at least one VOD when there are enough).
        config: the world's knobs (``WorldConfig()`` by default).
    """
    config = config or WorldConfig()
    if num_streams < 1:
        raise ValueError(f"num_streams must be >= 1, got {num_streams}")
    if duration_s < config.episode_seconds:
        raise ValueError(f"duration_s must be >= episode_seconds ({config.episode_seconds}), got {duration_s}")
    split_names = assign_splits(num_streams, splits or {"train": 0.7, "validation": 0.15, "test": 0.15}, seed)
    root = np.random.SeedSequence(seed)
    viewer_pool = _viewer_names(np.random.default_rng(root.spawn(1)[0]), 4 * config.viewers)
    return [
        _StreamBuilder(index, seed, float(duration_s), split_names[index], viewer_pool, config, rng_seed).build()
        for index, rng_seed in enumerate(root.spawn(num_streams + 1)[1:])
    ]


def assign_splits(num_streams: int, fractions: Mapping[str, float], seed: int) -> list[str]:
    """Split names for ``num_streams`` VODs in a seeded order: each named split gets ``round(fraction * n)`` VODs
    (at least one while VODs remain), the first split takes the rest."""
    if not fractions or any(value < 0 for value in fractions.values()) or sum(fractions.values()) <= 0:
        raise ValueError(f"splits must map names to non-negative fractions with a positive sum, got {dict(fractions)}")
    total = sum(fractions.values())
    names = list(fractions)
    counts = {name: 0 for name in names}
    remaining = num_streams
    for name in names[1:]:
        if fractions[name] > 0 and remaining > 1:
            counts[name] = min(remaining - 1, max(1, round(fractions[name] / total * num_streams)))
            remaining -= counts[name]
    counts[names[0]] = remaining
    labels = [name for name in names for _ in range(counts[name])]
    order = np.random.default_rng([seed, 7]).permutation(num_streams)
    return [labels[position] for position in np.argsort(order)]


def _viewer_names(rng: np.random.Generator, count: int) -> list[str]:
    names: list[str] = []
    seen = set()
    while len(names) < count:
        first, second = rng.choice(NAME_PARTS, size=2, replace=False)
        name = f"{first.capitalize()}{second}{rng.choice(NAME_SUFFIXES)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


class _Deck:
    """Draws items without replacement, reshuffling once all were drawn (so repeats are as far apart as possible).

    With ``repeats`` > 1 the deck deals two fresh items at a time, each ``repeats`` times in a shuffled order, so every
    item drawn comes back ``repeats`` times within a few draws (the ``WorldConfig.cue_recurrence`` worlds)."""

    BATCH = 2

    def __init__(self, items: Sequence[str], rng: np.random.Generator, repeats: int = 1):
        self._items, self._rng, self._pile, self._repeats = list(items), rng, [], repeats
        self._fresh: list[str] = []

    def draw(self) -> str:
        if not self._pile:
            if self._repeats == 1:
                self._pile = [self._items[i] for i in self._rng.permutation(len(self._items))]
            else:
                batch: list[str] = []
                while len(batch) < min(self.BATCH, len(self._items)):
                    if not self._fresh:
                        self._fresh = [self._items[i] for i in self._rng.permutation(len(self._items))]
                    item = self._fresh.pop()
                    if item not in batch:
                        batch.append(item)
                uses = batch * self._repeats
                self._pile = [uses[i] for i in self._rng.permutation(len(uses))]
        return self._pile.pop()


class _StreamBuilder:
    def __init__(self, index: int, seed: int, duration: float, split: str, viewer_pool: list[str],
                 config: WorldConfig, rng_seed: np.random.SeedSequence):
        self.rng = np.random.default_rng(rng_seed)
        self.config = config
        self.duration = duration
        self.split = split
        self.vod_id = f"9{seed % 10**6:06d}{index:03d}"
        self.streamer = STREAMERS[int(self.rng.integers(len(STREAMERS)))]
        self.category = CATEGORIES[int(self.rng.integers(len(CATEGORIES)))]
        self.viewers = list(self.rng.choice(viewer_pool, size=config.viewers, replace=False))
        repeats = config.cue_recurrence
        self.events = _Deck(POSITIONAL_KINDS if config.positional_events else EVENT_KINDS, self.rng, repeats)
        self.topics = _Deck(list(TOPIC_CATEGORY), self.rng, repeats)
        self.threads = _Deck(CHAT_THREADS, self.rng, repeats)
        self.screen: list[ScreenEvent] = []
        self.speech: list[SpeechLine] = []
        self.messages: list[tuple[float, str, str, CommentOrigin]] = []  # (time, author, text, origin)

    # -- helpers -------------------------------------------------------------------------------------------------
    def pick(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def viewer(self, exclude: Sequence[str] = ()) -> str:
        while True:
            name = self.pick(self.viewers)
            if name not in exclude:
                return name

    def decorate(self, text: str, chance: float = 0.4) -> str:
        """Append a decorative emote sometimes: emotes are part of chat, not of any cue."""
        return f"{text} {self.pick(DECORATIVE_EMOTES)}" if self.rng.random() < chance else text

    def say(self, start: float, length: float, text: str) -> float:
        self.speech.append(SpeechLine(round(start, 2), round(start + length, 2), text))
        return start + length

    def post(self, time: float, text: str, origin: CommentOrigin, author: str | None = None) -> str:
        author = author or self.viewer()
        self.messages.append((round(float(time), 3), author, text, origin))
        return author

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    # -- the stream ----------------------------------------------------------------------------------------------
    def build(self) -> Stream:
        config = self.config
        episodes = []
        count = int(self.duration // config.episode_seconds)
        for index in range(count):
            start = index * config.episode_seconds
            episodes.append(self.episode(index, start, start + config.context_seconds, start + config.episode_seconds))
        tail = count * config.episode_seconds
        if self.duration - tail >= 1:  # a partial last episode only has background
            self.background(None, tail, self.duration)
            if config.template_rate > 0:
                self.templates(None, tail, self.duration, self.duration)
        self.messages.sort(key=lambda item: item[0])
        chat, origins = [], []
        for time, author, text, origin in self.messages:
            message_id = str(uuid.UUID(bytes=self.rng.bytes(16), version=4))
            chat.append(chat_message(time, author, text, message_id))
            origins.append(origin)
        return Stream(
            vod_id=self.vod_id,
            streamer=self.streamer,
            category=self.category,
            title=f"{self.streamer} plays {self.category}",
            duration=self.duration,
            split=self.split,
            screen=tuple(self.screen),
            speech=tuple(sorted(self.speech, key=lambda line: line.start)),
            chat=tuple(chat),
            origins=tuple(origins),
            episodes=tuple(episodes),
            config=config,
        )

    def episode(self, index: int, start: float, context_end: float, end: float) -> Episode:
        active = [modality for modality in MODALITIES if self.rng.random() < self.config.cue_rate]
        if not active:
            active = [self.pick(MODALITIES)]
        if self.config.quiet_rate > 0 and self.rng.random() < self.config.quiet_rate:  # drawn only when on
            active = []
        if len(active) > self.config.max_cues:
            keep = self.rng.choice(len(active), size=self.config.max_cues, replace=False)
            active = [active[i] for i in sorted(keep)]
        cues = []
        if "video" in active:
            cues.append(self.video_cue(index, start, context_end))
        if "transcript" in active:
            cues.append(self.topic_cue(start, context_end))
        else:
            self.filler_speech(start, context_end, exclaim=bool(cues))
        if "chat" in active:
            cues.append(self.chat_cue(index, start, context_end))
        for cue in cues:
            self.respond(index, cue, context_end, end)
        self.background(index, start, context_end)
        if self.config.response_filler_rate > 0:
            self.filler(index, context_end, end, self.config.response_filler_rate)
        if self.rng.random() < 0.3:  # the streamer keeps talking, about nothing in particular
            self.say(context_end + self.uniform(1, 5), self.uniform(2, 3), self.pick(FILLER_SPEECH))
        if self.config.template_rate > 0:  # after every other draw: worlds without templates are unchanged
            self.templates(index, start, context_end, end)
        return Episode(index, start, context_end, end, tuple(cues))

    def video_cue(self, index: int, start: float, context_end: float) -> Cue:
        kind = self.events.draw()
        # Whole seconds, inside the context window, so a 1 fps sampler sees the event on 6 to 11 frames (4 to 11
        # when the onset is anywhere).
        if self.config.cue_placement == "early":
            first = start + int(self.rng.integers(1, 5))
            last = min(first + int(self.rng.integers(6, 12)), context_end - 1)
        else:
            first = start + int(self.rng.integers(1, int(context_end - start) - 4))
            last = min(first + int(self.rng.integers(4, 12)), context_end - 1)
        self.screen.append(ScreenEvent(kind, float(first), float(last)))
        cue = Cue("video", kind, POSITIONAL_MARKERS[kind] if self.config.positional_events else kind)
        time = first + self.uniform(0.5, 2)
        for _ in range(int(self.rng.integers(1, 3))):
            self.post(time, self.decorate(self.pick(EVENT_HUBBUB)), CommentOrigin("filler", index))
            time += self.uniform(1, 3)
        return cue

    def topic_cue(self, start: float, context_end: float) -> Cue:
        topic = self.topics.draw()
        category = TOPIC_CATEGORY[topic]
        latest_onset = 2.5 if self.config.cue_placement == "early" else context_end - start - 10
        time = start + self.uniform(0.5, latest_onset)
        time = self.say(time, self.uniform(2, 3), self.pick(TOPIC_INTROS).format(category=category)) + 0.5
        lines = self.rng.choice(len(TOPIC_LINES), size=3, replace=False)
        for line in lines:
            if time + 3.5 > context_end:
                break
            time = self.say(time, self.uniform(2.2, 3.2), TOPIC_LINES[line].format(topic=topic))
            time += self.uniform(0.5, 2.0)
        return Cue("transcript", topic, topic)

    def filler_speech(self, start: float, context_end: float, exclaim: bool) -> None:
        time = start + self.uniform(0.5, 4)
        for _ in range(int(self.rng.integers(1, 4))):
            if time + 3 > context_end:
                break
            text = self.pick(EVENT_EXCLAMATIONS) if exclaim and self.rng.random() < 0.3 else self.pick(FILLER_SPEECH)
            time = self.say(time, self.uniform(1.5, 3), text) + self.uniform(1, 4)

    def chat_cue(self, index: int, start: float, context_end: float) -> Cue:
        anywhere = self.config.cue_placement == "anywhere"
        if self.config.invented_rate and self.rng.random() < self.config.invented_rate:
            return self.invented_cue(index, start, context_end)
        thread = self.threads.draw()
        cue = Cue("chat", thread, thread)
        origin = CommentOrigin("cue", index, cue)
        if thread in QUESTIONS:
            time = start + self.uniform(1 if anywhere else 5, context_end - start - 6)
            asker = self.post(time, self.pick(QUESTION_FORMS).format(thing=thread), origin)
            if self.rng.random() < 0.6:  # somebody else wants to know too
                self.post(time + self.uniform(1.5, 4), self.pick(QUESTION_FORMS).format(thing=thread), origin,
                          self.viewer([asker]))
            return cue
        time = start + self.uniform(1, context_end - start - 8) if anywhere else context_end - self.uniform(7, 9)
        self.copypasta_wave(time, thread, origin)
        return cue

    def copypasta_wave(self, time: float, word: str, origin: CommentOrigin) -> None:
        authors: list[str] = []
        for copy in range(int(self.rng.integers(2, 4))):
            form = COPYPASTA_FORMS[0] if copy == 0 else self.pick(COPYPASTA_FORMS)
            authors.append(self.post(time, form.format(word=word), origin, self.viewer(authors)))
            time += self.uniform(1, 2.5)

    def invented_word(self) -> str:
        return "".join(self.rng.choice(SYLLABLES, size=2, replace=False))

    def invented_cue(self, index: int, start: float, context_end: float) -> Cue:
        """A meme word born in this episode, or a new viewer with an invented name: tokens only the chat supplies."""
        word = self.invented_word()
        if self.rng.random() < 0.5:
            cue = Cue("chat", f"meme:{word}", word)
            self.copypasta_wave(start + self.uniform(1, context_end - start - 8), word, CommentOrigin("cue", index, cue))
            return cue
        name = f"{word.capitalize()}{self.pick(NAME_SUFFIXES)}"
        cue = Cue("chat", f"greet:{name}", name)
        self.post(start + self.uniform(1, context_end - start - 3), self.pick(GREETING_FORMS), CommentOrigin("cue", index, cue), name)
        return cue

    def respond(self, index: int, cue: Cue, context_end: float, end: float) -> None:
        low, high = self.config.hype_responses if is_hype(cue.key, self.config.hype_share) else self.config.responses_per_cue
        origin = CommentOrigin("response", index, cue)
        authors: list[str] = []
        for _ in range(int(self.rng.integers(low, high + 1))):
            time = self.uniform(context_end + 0.3, end - 0.3)
            authors.append(self.post(time, self.reply_text(cue), origin, self.viewer(authors)))

    def reply_text(self, cue: Cue) -> str:
        emote_rate = self.config.response_emote_rate
        invented = cue.key.startswith(("greet:", "meme:"))
        if invented and not self.config.paraphrase_every_cue:
            form = WELCOME_FORMS if cue.key.startswith("greet:") else COPYPASTA_FORMS
            return self.pick(form).format(name=cue.marker, word=cue.marker)
        if self.config.paraphrase_rate and self.rng.random() < self.config.paraphrase_rate:
            return self.decorate(self.paraphrase(cue), 0 if invented else emote_rate)
        if cue.key.startswith("greet:"):
            return self.pick(WELCOME_FORMS).format(name=cue.marker)
        if cue.key.startswith("meme:"):
            return self.pick(COPYPASTA_FORMS).format(word=cue.marker)
        if cue.modality == "video" and self.config.positional_events:
            return self.decorate(self.pick(POSITIONAL_REACTION_FORMS).format(marker=cue.marker), emote_rate)
        if cue.modality == "video":
            return self.decorate(self.pick(EVENT_REACTIONS[cue.key]), emote_rate)
        if cue.modality == "transcript":
            return self.decorate(self.pick(TOPIC_REPLIES).format(topic=cue.key), emote_rate)
        if cue.key in QUESTIONS:
            return self.decorate(self.pick(ANSWER_FORMS).format(fact=QUESTIONS[cue.key], thing=cue.key), emote_rate / 2)
        return self.pick(COPYPASTA_FORMS).format(word=cue.key)

    def paraphrase(self, cue: Cue) -> str:
        """A reply related to the cue that does not contain its marker (copypastas are copied unless
        ``WorldConfig.paraphrase_every_cue``)."""
        if cue.modality == "video" and self.config.positional_events:
            thing, place = positional_parts(cue.key)
            return f"{OBJECT_ASSOCIATIONS[thing]} {place.replace('-', ' ')}"
        if cue.modality == "video":
            return self.pick(EVENT_ASSOCIATIONS[cue.key])
        if cue.modality == "transcript":
            return self.pick(ASSOCIATION_FORMS).format(word=TOPIC_ASSOCIATIONS[cue.key])
        if cue.key in QUESTIONS:
            return self.pick(FACT_FORMS).format(fact=QUESTIONS[cue.key])
        if not self.config.paraphrase_every_cue:
            return self.pick(COPYPASTA_FORMS).format(word=cue.key)
        if cue.key.startswith("meme:"):
            return self.pick(MEME_PARAPHRASES)
        if cue.key.startswith("greet:"):
            return self.pick(GREETING_PARAPHRASES)
        return self.pick(COPYPASTA_FORMS).format(word=COPYPASTA_ASSOCIATIONS[cue.key])

    def background(self, index: int | None, start: float, end: float) -> None:
        self.filler(index, start, end, self.config.filler_rate)
        if self.rng.random() < self.config.bot_rate:
            command = self.pick(list(BOT_COMMANDS))
            time = self.uniform(start, max(start, end - 3))
            origin = CommentOrigin("bot", index)
            author = self.post(time, command, origin)
            reply = BOT_COMMANDS[command].format(author=author, minutes=int(time // 60),
                                                 streamer=self.streamer.lower(), code=self.code())
            self.post(time + self.uniform(0.5, 1.5), reply, origin, self.pick(BOTS))
        if self.rng.random() < self.config.bot_rate / 3:
            self.post(self.uniform(start, end), self.pick(URL_SPAM).format(code=self.code()),
                      CommentOrigin("bot", index))

    def filler(self, index: int | None, start: float, end: float, rate: float) -> None:
        origin = CommentOrigin("filler", index)
        for _ in range(int(self.rng.poisson(rate * (end - start)))):
            text = self.pick(FILLER_CHAT).format(author=self.viewer())
            self.post(self.uniform(start, end), self.decorate(text, chance=0.25), origin)

    def templates(self, index: int | None, start: float, context_end: float, end: float) -> None:
        """Templated comments (``WorldConfig.template_rate``) in the context and response windows, answering no cue.
        A response-window template is one this episode's context did not just hold (people do not repeat the same
        long line ten seconds later), so the `livechat` protocol's ground truth, the response most similar to the
        context, stays a reply to the cue while the templates of other clips, similar to the context, are among its
        distractors."""
        rate = self.config.template_rate
        origin = CommentOrigin("filler", index)
        said = set()
        for _ in range(int(self.rng.poisson(rate * (context_end - start)))):
            text = self.pick(TEMPLATE_COMMENTS)
            said.add(text)
            self.post(self.uniform(start, context_end), text, origin)
        fresh = [text for text in TEMPLATE_COMMENTS if text not in said] or list(TEMPLATE_COMMENTS)
        for _ in range(int(self.rng.poisson(rate * (end - context_end)))):
            self.post(self.uniform(context_end + 0.3, end - 0.3), self.pick(fresh), origin)

    def code(self) -> str:
        return self.rng.bytes(5).hex()


def chat_message(time: float, author: str, text: str, source: str = "") -> ChatMessage:
    """A ChatMessage whose known emote names (``EMOTE_IDS``) become emotes with their character spans."""
    return ChatMessage(time, author, text, tuple(_emote_spans(text)), source)


def _emote_spans(text: str) -> Iterator[Emote]:
    position = 0
    for token in text.split(" "):
        if token in EMOTE_IDS:
            yield Emote(token, position, position + len(token), EMOTE_IDS[token])
        position += len(token) + 1
