"""The words of the procedural stream world: what the screen shows and how chat reacts, what the streamer talks
about, what chat asks and repeats, and the background around them. Pure data; `world.py` draws from it."""

from hf_livechat.data.clip_inputs import MODALITIES  # noqa: F401 (the modalities a cue can belong to)

# Global Twitch emotes with their real ids (checked against a TwitchDownloader dump).
EMOTE_IDS: dict[str, str] = {
    "Kappa": "25",
    "PogChamp": "305954156",
    "LUL": "425618",
    "Kreygasm": "41",
    "DansGame": "33",
    "SwiftRage": "34",
    "BibleThump": "86",
    "NotLikeThis": "58765",
    "ResidentSleeper": "245",
    "WutFace": "28087",
    "4Head": "354",
    "SeemsGood": "64138",
    "HeyGuys": "30259",
    "CoolCat": "58127",
    "Jebaited": "114836",
    "FailFish": "360",
    "BloodTrail": "69",
}
# Emotes sprinkled on any comment; they carry no cue, so a model cannot rank by them.
DECORATIVE_EMOTES = ("PogChamp", "LUL", "Kreygasm", "Kappa", "SwiftRage", "WutFace", "NotLikeThis", "SeemsGood")

# ---------------------------------------------------------------------------------------------------------------
# Video: what the screen shows and how chat reacts. The rendering of each kind lives in writer.SCENES. Reactions
# share a few words ("no way", "omg", "look") with the kind-agnostic hubbub of the context chat, so TF-IDF-similar
# negatives of an event clip are reactions to other events: only the pixels tell them apart.
EVENT_REACTIONS: dict[str, tuple[str, ...]] = {
    "boss": ("boss fight lets go", "no way huge boss", "omg boss", "look boss incoming", "kill boss"),
    "goal": ("GOAL", "what a goal", "no way goal", "omg goal of the year", "look goal"),
    "crash": ("game crash again", "no way crash", "omg crash", "rip crash", "look crash again"),
    "shop": ("shop time", "buy armor shop", "no way shop sale", "omg shop", "look shop prices"),
    "storm": ("storm incoming", "no way storm", "omg storm", "lightning storm", "look storm"),
    "victory": ("victory", "gg victory", "no way victory", "omg victory lap", "look victory"),
    "death": ("death screen again", "rip death", "no way death", "omg death", "look death counter"),
    "space": ("space level", "stars space", "no way space", "omg space pretty", "look space"),
    "ocean": ("ocean level", "deep ocean vibes", "no way ocean", "omg ocean bubbles", "look ocean"),
    "fire": ("fire everywhere", "on fire lets go", "no way fire", "omg fire", "look fire"),
    "snow": ("snow level", "let it snow", "no way snow", "omg snow", "look snow"),
    "party": ("party time", "party mode lets go", "no way party", "omg party", "look party"),
}
# What the context chat says while an event is on screen, whatever it is.
EVENT_HUBBUB = ("wait what", "no way", "omg look", "look look look", "omg omg", "no way lets go")
EVENT_KINDS = tuple(EVENT_REACTIONS)

# ---------------------------------------------------------------------------------------------------------------
# Transcript: topics the streamer talks about (category -> topic words) and how chat answers them.
TOPICS: dict[str, tuple[str, ...]] = {
    "food": ("pizza", "sushi", "ramen", "tacos", "pancakes", "lasagna"),
    "music": ("jazz", "techno", "reggae", "opera", "polka"),
    "animals": ("hamsters", "parrots", "turtles", "penguins", "otters"),
    "sports": ("tennis", "hockey", "surfing", "skiing", "bowling"),
    "travel": ("iceland", "brazil", "egypt", "canada", "portugal"),
    "hobbies": ("gardening", "knitting", "painting", "baking", "pottery"),
}
TOPIC_CATEGORY: dict[str, str] = {word: category for category, words in TOPICS.items() for word in words}
TOPIC_INTROS = (
    "okay chat quick {category} talk",
    "let me tell you something about {category}",
    "random {category} thought for chat",
)
# Lines and replies share "best", "love", "team", "all day": TF-IDF-similar negatives of a topic clip are replies
# to other topics, and only the spoken topic word tells them apart.
TOPIC_LINES = (
    "honestly {topic} is the best",
    "I love {topic} so much",
    "team {topic} all day chat",
    "what do you think about {topic} chat",
    "{topic} is on my mind lately",
)
TOPIC_REPLIES = (
    "{topic} best",
    "love {topic}",
    "{topic} all day",
    "team {topic}",
    "{topic} overrated",
    "yes {topic} love it",
    "{topic} best ever",
)

# ---------------------------------------------------------------------------------------------------------------
# Chat: questions with fixed answers, and copypastas that chat keeps repeating. The key is the thread id and the
# marker the word every line of the thread shares.
QUESTIONS: dict[str, str] = {
    # the thing asked about -> the fact chat answers; questions and answers share "setup" and "brand".
    "keyboard": "keychron",
    "mouse": "razer",
    "mic": "shure",
    "chair": "herman miller",
    "monitor": "asus",
    "headset": "hyperx",
    "camera": "sony",
    "desk": "ikea",
    "lamp": "philips",
}
QUESTION_FORMS = ("what {thing} brand is that", "which {thing} is in his setup", "setup {thing} brand?")
ANSWER_FORMS = ("{fact} {thing} brand", "setup {thing} is {fact}", "{fact} {thing}", "{thing} brand {fact}")
# Copypastas share their shape ("... gang"), so TF-IDF-similar negatives of a copypasta clip are other copypastas.
COPYPASTA_WORDS = ("bread", "pineapple", "noodle", "pickle", "banana", "wizard", "potato", "cheese", "sock")
COPYPASTA_FORMS = ("{word} gang rise up", "{word} gang", "{word} {word} {word}", "{word} gang forever")
CHAT_THREADS = tuple(QUESTIONS) + COPYPASTA_WORDS

# ---------------------------------------------------------------------------------------------------------------
# Background: what fills the stream between cues. None of it contains a marker word.
FILLER_CHAT = (
    "hi chat", "hello everyone", "HeyGuys", "lol", "nice", "how is everyone doing", "good stream today",
    "first time here", "just lurking", "gg", "this is chill", "good vibes only", "hey @{author}",
    "@{author} hi", "whats up", "so good", "lmao", "true", "back from work", "any plans tonight",
    "hello from the couch", "hi mods", "yo", "classic", "haha", "welcome back", "big brain", "pog",
)
FILLER_SPEECH = (
    "okay let me just grab this", "alright alright", "hmm where do we go now", "yeah chat I see you",
    "one second let me check something", "okay we are back", "let's keep going", "that was close",
    "I think we go left here", "give me a moment", "okay okay", "thanks for hanging out",
)
# The streamer may notice an event without naming it.
EVENT_EXCLAMATIONS = ("whoa what is happening", "look at that chat", "oh no oh no", "wait wait wait")
BOT_COMMANDS = {
    "!uptime": "@{author} the stream has been live for {minutes} minutes https://twitch.tv/{streamer}",
    "!discord": "join the discord https://discord.gg/{code}",
    "!socials": "follow on twitter https://twitter.com/{streamer}",
}
BOTS = ("Nightbot", "StreamElements")
URL_SPAM = ("check this clip https://clips.twitch.tv/{code}", "https://youtu.be/{code} lol")

STREAMERS = ("PixelPanda", "NordicWolf", "LunaPlays", "CaptainMoss", "VelvetFox", "QuietThunder")
CATEGORIES = ("Pixel Quest", "Kart Mania", "Dungeon Dash", "Block Builders", "Just Chatting")
NAME_PARTS = ("ash", "bit", "cat", "dew", "elm", "fig", "gus", "hex", "ivy", "jam", "kit", "lux", "max", "neo",
              "oak", "pip", "rex", "sky", "tao", "uma", "vex", "wren", "yak", "zed")
NAME_SUFFIXES = ("", "_tv", "99", "x", "_gg", "42", "lol", "_")

# ---------------------------------------------------------------------------------------------------------------
# Variants of the world (``WorldConfig.paraphrase_rate`` / ``invented_rate``).
# Replies that relate to a cue without repeating its marker: the model must know what goes with what.
EVENT_ASSOCIATIONS: dict[str, tuple[str, ...]] = {
    "boss": ("health bar melting", "final phase already"),
    "goal": ("top corner striker", "keeper had no chance"),
    "crash": ("frozen pc again", "blue screen moment"),
    "shop": ("spend all the coins", "buy the armor"),
    "storm": ("thunder so loud", "rain everywhere"),
    "victory": ("champions", "we won chat"),
    "death": ("respawn timer", "grave again"),
    "space": ("planets and rockets", "zero gravity"),
    "ocean": ("underwater bubbles", "swim deep"),
    "fire": ("flames hot hot", "burning map"),
    "snow": ("frozen flakes", "cold winter map"),
    "party": ("confetti rain", "dance dance"),
}
TOPIC_ASSOCIATIONS: dict[str, str] = {
    "pizza": "pepperoni", "sushi": "wasabi", "ramen": "broth", "tacos": "salsa", "pancakes": "syrup",
    "lasagna": "layers", "jazz": "saxophone", "techno": "bassline", "reggae": "marley", "opera": "soprano",
    "polka": "accordion", "hamsters": "wheel", "parrots": "feathers", "turtles": "shell", "penguins": "antarctica",
    "otters": "river", "tennis": "racket", "hockey": "puck", "surfing": "waves", "skiing": "slopes",
    "bowling": "strike", "iceland": "geysers", "brazil": "samba", "egypt": "pyramids", "canada": "maple",
    "portugal": "lisbon", "gardening": "tomatoes", "knitting": "yarn", "painting": "canvas", "baking": "oven",
    "pottery": "clay",
}
ASSOCIATION_FORMS = ("{word} {word} chat", "mmm {word}", "{word} is elite", "need {word} now")
# The answer to a setup question without the thing asked about.
FACT_FORMS = ("its a {fact}", "{fact} obviously", "pretty sure {fact}")
# Invented tokens that only the context can supply: a meme word born in this stream, a new viewer to greet.
SYLLABLES = ("zor", "blem", "quix", "vel", "drun", "snor", "plip", "grav", "mox", "trel", "wub", "flon", "kri",
             "yop", "jub", "nix", "brap", "sken")
GREETING_FORMS = ("first time here hi chat", "hello i just found this stream", "hi everyone new here")
WELCOME_FORMS = ("welcome {name}", "hi {name} welcome", "{name} welcome in", "hey {name}")

# ``WorldConfig.paraphrase_every_cue``: copypastas answered by an associated word in the copypasta's shape
# ("toast gang rise up" for bread), invented memes and greetings by a line without the invented token.
COPYPASTA_ASSOCIATIONS: dict[str, str] = {
    "bread": "toast", "pineapple": "tropical", "noodle": "spaghetti", "pickle": "cucumber", "banana": "monkey",
    "wizard": "spellbook", "potato": "fries", "cheese": "cheddar", "sock": "laundry",
}
MEME_PARAPHRASES = ("new meme just dropped", "this meme again lol", "chat invented a meme")
GREETING_PARAPHRASES = ("welcome new friend", "hi newcomer", "welcome in new viewer")

# ``WorldConfig.template_rate``: long templated comments that chat posts at any moment, answering no cue. Each is
# always written the same way, so a model scoring by plain likelihood learns to rank them first. No two share a
# word: a template the context did not hold is no closer to it than a reply.
TEMPLATE_COMMENTS = (
    "this stream is genuinely the greatest thing on the internet right now",
    "been watching three hours straight and regret absolutely nothing",
    "whoever reads my message hope your evening goes wonderfully",
    "community feels truly wholesome appreciate every single person here",
    "finally home after long shift perfect timing",
    "cannot believe more people dont watch these broadcasts",
)

# ``WorldConfig.positional_events``: the screen shows one of a few objects in one of six places, and each (object,
# place) pair is an event of its own with its own marker word: what is shown does not decide the reply, where does
# too. The kind of such an event is ``"<object>-<place>"`` (``"skull-top-left"``); writer.py draws it.
EVENT_OBJECTS = ("orb", "crown", "skull", "gem")
EVENT_PLACES = ("top-left", "top-centre", "top-right", "bottom-left", "bottom-centre", "bottom-right")
_PLACE_MARKERS: dict[str, tuple[str, ...]] = {  # one word per place, in EVENT_PLACES order
    "orb": ("comet", "eclipse", "sunrise", "meteor", "lava", "sunset"),
    "crown": ("king", "queen", "prince", "jester", "knight", "bishop"),
    "skull": ("ghost", "zombie", "vampire", "mummy", "witch", "goblin"),
    "gem": ("ruby", "emerald", "sapphire", "diamond", "amber", "topaz"),
}
POSITIONAL_MARKERS: dict[str, str] = {
    f"{thing}-{place}": word
    for thing, words in _PLACE_MARKERS.items()
    for place, word in zip(EVENT_PLACES, words, strict=True)
}
POSITIONAL_KINDS = tuple(POSITIONAL_MARKERS)
# Reactions share "no way"/"omg"/"look" with the hubbub, as EVENT_REACTIONS do.
POSITIONAL_REACTION_FORMS = ("no way {marker}", "omg {marker}", "look {marker}", "{marker} lets go", "{marker} again")
# A paraphrase names the object's association and the place, never the marker ("spooky top left").
OBJECT_ASSOCIATIONS = {"orb": "glowing", "crown": "royal", "skull": "spooky", "gem": "shiny"}


def positional_parts(kind: str) -> tuple[str, str]:
    """``"skull-top-left"`` -> ``("skull", "top-left")``."""
    thing, place = kind.split("-", 1)
    return thing, place
