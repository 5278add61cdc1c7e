"""LiveChat model configuration."""

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec


MODALITIES = ("video", "transcript", "chat")
CHAT_ENCODER_TYPES = ("comment", "token")
CHOICES = {
    "chat_encoder_type": CHAT_ENCODER_TYPES,
    "layer_norm_position": ("pre", "post"),
    "comment_pooling": ("mean", "cls"),
    "transcript_memory": ("tokens", "cls"),
    "context_sampling": ("latest", "random"),
    "decoder_fusion": ("cross_attention", "prefix"),
    "decoder_prompt": ("none", "chat"),
    "activity_chat_count": ("slots", "comments"),
    "activity_pooling": ("attention", "attention+max"),
}


# Named sizes, kept next to the model as timm keeps its variants. The small ones differ from the published model
# where the world family (bench/bench_worlds.py) showed it matters: they train with the context that evaluation and
# generation use (15 comments), attend to chat token by token, read who wrote each comment, and copy tokens from the
# transcript and chat (replies repeat topic words, memes and viewers' names that the vocabulary may not hold).
_SMALL_PRESET_CONTEXT = dict(max_context_comments=15, chat_encoder_type="token", copy_mechanism=True, chat_with_authors=True)
# Every preset predicts chat activity (the activity head): `train` teaches it on the clips' response counts.
_ACTIVITY = dict(
    activity_head=True, activity_chat_count="comments", activity_chat_bins=10, activity_pooling="attention+max", activity_dropout=0.3
)
PRESETS = {
    "tiny": dict(d_model=64, encoder_layers=1, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                 encoder_ffn_dim=128, decoder_ffn_dim=128, **_SMALL_PRESET_CONTEXT, **_ACTIVITY),
    "small": dict(d_model=128, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                  encoder_ffn_dim=256, decoder_ffn_dim=256, **_SMALL_PRESET_CONTEXT, **_ACTIVITY),
    "reference": dict(_ACTIVITY),  # the published model's sizes: LiveChatConfig()
}
PRESET_NAMES = (*PRESETS, "reference-code")


@strict
class LiveChatConfig(PreTrainedConfig):
    r"""
    Configuration of a [`LiveChatModel`] / [`LiveChatForCommentGeneration`]: three transformer encoders (per-second
    video frame features, the streamer's speech transcript, the recent chat) and a decoder whose every layer holds
    masked self-attention, one cross-attention block per modality, and a feed-forward block.

    `LiveChatConfig()` has the published LiveChat model's sizes: d_model 256, 4 encoder and 4 decoder layers, 8
    heads, feed-forward 512, dropout 0.1, 2048-d ResNet50 frame features, the 30522-token BERT uncased vocabulary,
    transcripts up to 100 tokens, 5 context comments in training (15 in evaluation), comments of up to 10 tokens,
    and the per-comment chat encoder. Its layers are pre-norm, mean-pool each comment and keep every transcript token,
    which train better from scratch than the reference code's choices; [`LiveChatConfig.reference_code`] follows
    the reference code where it differs (see docs/reference-fidelity.md).

    Args:
        vocab_size (`int`, defaults to 30522):
            Size of the token vocabulary shared by the transcript encoder, the chat encoder and the decoder.
        d_model (`int`, defaults to 256):
            Width of every encoder and of the decoder.
        encoder_layers (`int`, defaults to 4):
            Transformer layers in each of the three encoders.
        decoder_layers (`int`, defaults to 4):
            Decoder layers.
        encoder_attention_heads (`int`, defaults to 8):
            Attention heads in the encoders.
        decoder_attention_heads (`int`, defaults to 8):
            Attention heads in the decoder's self- and cross-attention blocks.
        encoder_ffn_dim (`int`, defaults to 512):
            Inner size of the encoders' feed-forward blocks.
        decoder_ffn_dim (`int`, defaults to 512):
            Inner size of the decoder's feed-forward blocks.
        activation_function (`str`, defaults to `"gelu"`):
            Activation of the feed-forward blocks (any key of `transformers.activations.ACT2FN`).
        dropout (`float`, defaults to 0.1):
            Dropout on embeddings and residual branches.
        attention_dropout (`float`, defaults to 0.0):
            Dropout on attention probabilities.
        activation_dropout (`float`, defaults to 0.0):
            Dropout inside the feed-forward blocks.
        init_std (`float`, defaults to 0.02):
            Standard deviation of the normal initialiser of linear and embedding weights.
        layer_norm_eps (`float`, defaults to 1e-5):
            Epsilon of the layer norms.
        video_feature_dim (`int`, defaults to 2048):
            Size of one frame feature vector (2048 for a ResNet50 pooled output).
        max_video_frames (`int`, defaults to 64):
            Size of the temporal position table of the video encoder (frames are sampled at 1 fps, so 64 s).
        max_transcript_length (`int`, defaults to 100):
            Transcript tokens the processor keeps (the most recent ones).
        chat_encoder_type (`str`, defaults to `"comment"`):
            `"comment"`: as the reference code, each context comment is encoded on its own and mean-pooled into one
            vector; the decoder attends over one vector per comment (plus a recency embedding). `"token"`: the
            context comments are joined with `[SEP]` into one token sequence and the decoder attends over tokens
            (each token carries its position inside its comment and its comment's recency).
        max_context_comments (`int`, defaults to 5):
            Context comments the processor keeps in training (the most recent ones). Also the recency horizon:
            comments are numbered from the newest (1) back to this number, and older ones (evaluation may keep more)
            share its recency embedding, so that evaluation only uses positions that training reaches.
        max_eval_context_comments (`int`, defaults to 15):
            Context comments the processor keeps at evaluation / generation time.
        max_comment_length (`int`, defaults to 10):
            Tokens per comment: context comments in `"comment"` mode and generated / target comments.
        max_chat_length (`int`, defaults to 256):
            Chat tokens kept in `"token"` mode.
        max_position_embeddings (`int`, defaults to 512):
            Size of the transcript and decoder position tables.
        cross_attention_order (`list[str]`, defaults to `["video", "transcript", "chat"]`):
            Order of the three cross-attention blocks inside each decoder layer.
        feature_model (`str`, defaults to `"timm/resnet50.a1_in1k"`):
            Id or path of the image model whose pooled output gives the frame features; pipelines load it.
        frame_size (`int`, defaults to 224):
            Side of the square frames the feature model sees.
        mlm_probability (`float`, defaults to 0.15):
            Share of transcript and chat tokens masked by the pretraining objective.
        mlm_mask_share (`float`, defaults to 0.8):
            Share of the chosen tokens replaced by `[MASK]`; the rest is split evenly between a random token and the
            unchanged token (BERT's 80/10/10; the reference code masks all of them: 1.0).
        layer_norm_position (`str`, defaults to `"pre"`):
            `"pre"`: layer norm before each attention / feed-forward block (stable from scratch, no warm-up needed).
            `"post"`: after the residual sum, as BERT and the reference code.
        comment_pooling (`str`, defaults to `"mean"`):
            How a context comment becomes one vector in `"comment"` mode: `"mean"` over its tokens and summary slot,
            or `"cls"`, its summary slot only (the reference code's [CLS] pooling).
        transcript_memory (`str`, defaults to `"tokens"`):
            `"tokens"`: the decoder attends over every transcript token. `"cls"`: over the transcript's summary slot
            only (the reference code's single [CLS] vector).
        context_sampling (`str`, defaults to `"latest"`):
            Which context comments training keeps when a clip has more than `max_context_comments`: the latest, or
            a random subset in their order (the reference code). Evaluation always keeps the latest.
        chat_with_authors (`bool`, defaults to `False`):
            Read each context comment as `"author: text"` instead of its text alone, so that replies can name (copy)
            the viewer they answer.
        text_encoder (`PreTrainedConfig` or `dict`, *optional*):
            Sub-config (as CLIPConfig's `text_config`) of a BERT-family model used as the transcript and chat encoders
            in place of LiveChat's own; its hidden states are projected to `d_model`. A dict (as older saved configs
            hold it) becomes the config of its `model_type` (BERT without one). Set it with
            [`LiveChatConfig.with_text_encoder`]; load its weights with
            `model.get_encoder().load_pretrained_text_encoders()`.
        text_encoder_name_or_path (`str`, *optional*):
            Where the text encoders' pretrained weights come from (a Hub id or folder).
        copy_mechanism (`bool`, defaults to `False`):
            Mix a copy distribution over the context's transcript and chat tokens into the LM head (pointer-generator):
            lets the model repeat names, memes and emotes it saw in the context.
        activity_head (`bool`, defaults to `False`; every preset turns it on):
            Predict how many comments the response window will hold from the three encoded modalities
            ([`LiveChatActivityHead`]): `predict_activity`, and `activity_log_rate` in the outputs. It reads the
            encoders without training them (their states are detached): its loss reaches no encoder or decoder weight.
            Off by default so that a checkpoint saved before the head existed loads without an untrained one.
        activity_chat_count (`str`, defaults to `"slots"`; every preset sets `"comments"`):
            How much chat the activity head counts. `"comments"`: every comment of the context window
            (`chat_comment_count`, which [`LiveChatProcessor`] gives), however many the chat encoder keeps: busy chat
            holds more than `max_context_comments` in 20 s, and the count is the best single sign of what comes next.
            `"slots"`: the chat memory's real slots (capped by what the encoder keeps; checkpoints from before).
        activity_chat_bins (`int`, defaults to 0; every preset sets 10):
            The activity head also reads when the context comments came: their counts in this many bins of
            `activity_bin_seconds` before the window's end (`chat_time_histogram`, which [`LiveChatProcessor`] gives
            when told `chat_end_time`; rows and live windows tell it). These counts, with the comment, frame and token
            counts, enter the predicted log-rate through a linear map, and the MLP reads the pooled memories alone: a
            power law of the recent rate that holds beyond the rates seen in training, where an MLP over counts
            extrapolates badly. 0: no bins, the counts go through the MLP (the head of checkpoints from before).
        activity_bin_seconds (`float`, defaults to 2.0):
            Width of one bin (10 bins of 2 s span the 20 s context window).
        activity_pooling (`str`, defaults to `"attention"`; every preset sets `"attention+max"`):
            How the activity head summarises each memory for its MLP. `"attention"`: one learned query per modality.
            `"attention+max"`: also the element-wise maximum over the memory's slots, which tells whether anything
            in the window (one cue among filler comments) looks like what draws replies, wherever it sits.
            `"attention"` is the head of checkpoints from before.
        activity_dropout (`float`, defaults to 0.0; every preset sets 0.3):
            Dropout on the activity head's hidden layer (the content part): what a stream's chat reacts to drifts over
            the stream, and a head that leans on the content of its training windows ranks later windows worse.
        activity_loss_weight (`float`, defaults to 1.0):
            Weight of the head's Poisson loss (given `activity_labels`, the response windows' comment counts) in `loss`.
        decoder (`PreTrainedConfig` or `dict`, *optional*):
            Sub-config of a causal language model (any `AutoModelForCausalLM`: llama, qwen2, mistral, gpt2
            families) used as the comment decoder in place of LiveChat's own; `vocab_size` and the special tokens are
            then the LM tokenizer's, which the transcript and chat encoders also read. Set it with
            [`LiveChatConfig.with_decoder`]; load its weights with `model.get_decoder().load_pretrained_lm()`.
            The `decoder_*` sizes above then describe nothing (the LM has its own).
        decoder_name_or_path (`str`, *optional*):
            Where the decoder's pretrained weights come from (a folder or Hub id).
        decoder_fusion (`str`, defaults to `"cross_attention"`):
            How the LM decoder reads the encoded clip. `"cross_attention"` (Flamingo): a gated cross-attention block
            over the three memories before LM layers, its tanh gates initialised at 0 so that training starts from
            the LM itself. `"prefix"` (LLaVA): the memories, projected to the LM's width, are prefix embeddings
            before the comment's tokens.
        cross_attention_interval (`int`, defaults to 1):
            With `decoder_fusion="cross_attention"`, a gated block goes before every `cross_attention_interval`-th
            LM layer (layers 0, k, 2k, ...).
        decoder_prompt (`str`, defaults to `"none"`; [`LiveChatConfig.with_decoder`] sets `"chat"`):
            What the LM decoder also reads as text before the comment. `"chat"`: the context comments, each written
            as a target comment is (start token, its tokens, end token), so that an untrained model already continues
            the chat as the pretrained LM would (through cross-attention alone, with its gates at 0, it starts as an
            unconditional LM). The encoders read the chat as before.
    """

    model_type = "livechat"
    sub_configs_defaults = {
        "text_encoder": SubConfigSpec(AutoConfig, model_type="bert", optional=True),
        "decoder": SubConfigSpec(AutoConfig, model_type="llama", optional=True),
    }
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "decoder_attention_heads",
        "num_hidden_layers": "decoder_layers",
    }

    vocab_size: int = 30522
    d_model: int = 256
    encoder_layers: int = 4
    decoder_layers: int = 4
    encoder_attention_heads: int = 8
    decoder_attention_heads: int = 8
    encoder_ffn_dim: int = 512
    decoder_ffn_dim: int = 512
    activation_function: str = "gelu"
    dropout: float | int = 0.1
    attention_dropout: float | int = 0.0
    activation_dropout: float | int = 0.0
    init_std: float = 0.02
    layer_norm_eps: float = 1e-5
    video_feature_dim: int = 2048
    max_video_frames: int = 64
    max_transcript_length: int = 100
    chat_encoder_type: str = "comment"
    max_context_comments: int = 5
    max_eval_context_comments: int = 15
    max_comment_length: int = 10
    max_chat_length: int = 256
    max_position_embeddings: int = 512
    cross_attention_order: list[str] | tuple[str, ...] = ("video", "transcript", "chat")
    feature_model: str = "timm/resnet50.a1_in1k"
    frame_size: int = 224
    mlm_probability: float = 0.15
    mlm_mask_share: float = 0.8
    layer_norm_position: str = "pre"
    comment_pooling: str = "mean"
    transcript_memory: str = "tokens"
    context_sampling: str = "latest"
    chat_with_authors: bool = False
    text_encoder: dict | PreTrainedConfig | None = None
    text_encoder_name_or_path: str | None = None
    copy_mechanism: bool = False
    decoder: dict | PreTrainedConfig | None = None
    decoder_name_or_path: str | None = None
    decoder_fusion: str = "cross_attention"
    cross_attention_interval: int = 1
    decoder_prompt: str = "none"
    activity_head: bool = False
    activity_chat_count: str = "slots"
    activity_chat_bins: int = 0
    activity_bin_seconds: float = 2.0
    activity_pooling: str = "attention"
    activity_dropout: float = 0.0
    activity_loss_weight: float = 1.0
    use_cache: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 101
    eos_token_id: int | list[int] | None = 102
    sep_token_id: int | None = 102
    mask_token_id: int | None = 103
    decoder_start_token_id: int | None = 101
    is_encoder_decoder: bool = True
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        self.cross_attention_order = list(self.cross_attention_order)
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Checks that the sizes and choices fit together (called on init and before saving)."""
        if sorted(self.cross_attention_order) != sorted(MODALITIES):
            raise ValueError(
                f"cross_attention_order must be a permutation of {list(MODALITIES)}, got {self.cross_attention_order}"
            )
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.text_encoder is not None:
            if not isinstance(self.text_encoder, PreTrainedConfig):
                raise ValueError("text_encoder must be a config (see LiveChatConfig.with_text_encoder)")
            if getattr(self.text_encoder, "vocab_size", self.vocab_size) != self.vocab_size:
                raise ValueError(
                    f"the text encoder's vocabulary ({self.text_encoder.vocab_size} tokens) differs from "
                    f"vocab_size={self.vocab_size}: use the text encoder's tokenizer for LiveChat"
                )
        if self.decoder is not None:
            if not isinstance(self.decoder, PreTrainedConfig):
                raise ValueError("decoder must be a causal LM config (see LiveChatConfig.with_decoder)")
            if self.decoder.vocab_size != self.vocab_size:
                raise ValueError(
                    f"the decoder's vocabulary ({self.decoder.vocab_size} tokens) differs from vocab_size="
                    f"{self.vocab_size}: LiveChat with an LM decoder uses the LM's vocabulary"
                )
            if self.cross_attention_interval < 1:
                raise ValueError(f"cross_attention_interval must be >= 1, got {self.cross_attention_interval}")
            if self.text_encoder is not None:
                raise ValueError("an LM decoder and a pretrained text encoder need two vocabularies; choose one")
            if self.decoder_prompt == "chat" and self.chat_with_authors:
                raise ValueError(
                    "decoder_prompt='chat' shows the LM the context comments as it writes comments, without authors: "
                    "set chat_with_authors=False (LiveChatConfig.with_decoder does)"
                )
        elif self.decoder_prompt != "none":
            raise ValueError(f"decoder_prompt={self.decoder_prompt!r} needs an LM decoder (LiveChatConfig.with_decoder)")
        if not 0 <= self.activity_dropout < 1:
            raise ValueError(f"activity_dropout must be in [0, 1), got {self.activity_dropout}")
        if self.activity_chat_bins < 0 or self.activity_bin_seconds <= 0:
            raise ValueError(
                f"activity_chat_bins must be >= 0 and activity_bin_seconds > 0, got {self.activity_chat_bins}, "
                f"{self.activity_bin_seconds}"
            )
        for heads_name in ("encoder_attention_heads", "decoder_attention_heads"):
            if self.d_model % getattr(self, heads_name):
                raise ValueError(f"d_model ({self.d_model}) must be divisible by {heads_name}")
        if self.max_transcript_length > self.max_position_embeddings or self.max_chat_length > self.max_position_embeddings:
            raise ValueError("max_transcript_length and max_chat_length must not exceed max_position_embeddings")

    def get_text_config(self, decoder=None, encoder=None) -> PreTrainedConfig:
        """This config itself for the text output end and for both ends: the decoder, the shared vocabulary and the
        special tokens are LiveChat's. `encoder=True` alone gives the text encoder's sub-config when there is one.
        transformers would otherwise answer every question with `text_encoder` (a name it reads as a text input end),
        and the Trainer's token alignment, embedding resizing and the decoder's masks would read the BERT config."""
        if encoder and not decoder:
            return self.text_encoder if self.text_encoder is not None else super().get_text_config(encoder=True)
        return self

    @classmethod
    def with_text_encoder(cls, name_or_path: str, **kwargs) -> "LiveChatConfig":
        """A config whose transcript and chat encoders are the BERT-family model `name_or_path` (any checkpoint
        `AutoModel` loads, e.g. `prajjwal1/bert-mini`, MiniLM-L6). Only its config is read here."""
        text_config = AutoConfig.from_pretrained(name_or_path).to_dict()
        for key in ("architectures", "transformers_version", "_name_or_path", "auto_map", "dtype", "torch_dtype"):
            text_config.pop(key, None)
        kwargs.setdefault("vocab_size", text_config.get("vocab_size", 30522))
        return cls(text_encoder=text_config, text_encoder_name_or_path=str(name_or_path), **kwargs)

    @classmethod
    def with_decoder(cls, name_or_path: str, **kwargs) -> "LiveChatConfig":
        """A config whose comment decoder is the causal LM `name_or_path` (a folder or Hub id `AutoConfig` reads).
        Only its config is read here; `vocab_size` follows the LM, and the LM reads the context chat as text
        (`decoder_prompt="chat"`) unless told otherwise: the comments as it writes them, so without their authors
        (`chat_with_authors=False`; with authors it would learn to write a name before every comment)."""
        decoder_config = AutoConfig.from_pretrained(name_or_path)
        kwargs["vocab_size"] = decoder_config.vocab_size
        kwargs.setdefault("decoder_prompt", "chat")
        if kwargs["decoder_prompt"] == "chat":
            kwargs["chat_with_authors"] = False
        kwargs.pop("decoder", None), kwargs.pop("decoder_name_or_path", None)
        return cls(decoder=decoder_config, decoder_name_or_path=str(name_or_path), **kwargs)

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> "LiveChatConfig":
        """A named preset (`PRESET_NAMES`: tiny, small, reference, reference-code), with `kwargs` on top."""
        if name == "reference-code":
            return cls.reference_code(**kwargs)
        if name not in PRESETS:
            raise ValueError(f"unknown LiveChat preset {name!r}; choose from {PRESET_NAMES}")
        return cls(**{**PRESETS[name], **kwargs})

    @classmethod
    def reference_code(cls, text_encoder: str | None = None, **kwargs) -> "LiveChatConfig":
        """The published LiveChat reference code where it matters (see docs/reference-fidelity.md): cross-attention
        chat -> transcript -> video, post-norm layers, [CLS]-pooled comments, the transcript as one [CLS] vector,
        20 % masked-LM masking all to [MASK], context comments sampled at random. With `text_encoder` (the reference
        uses `prajjwal1/bert-mini`) the transcript and chat encoders are that pretrained BERT; without it, LiveChat's
        own encoders at bert-mini's size (4 layers, 4 heads, feed-forward 1024), trained from scratch."""
        preset = dict(
            cross_attention_order=["chat", "transcript", "video"],
            layer_norm_position="post",
            comment_pooling="cls",
            transcript_memory="cls",
            chat_encoder_type="comment",
            mlm_probability=0.2,
            mlm_mask_share=1.0,
            context_sampling="random",
            encoder_attention_heads=4,
            encoder_ffn_dim=1024,
            **_ACTIVITY,
        )
        preset.update(kwargs)
        if text_encoder is not None:
            return cls.with_text_encoder(text_encoder, **preset)
        return cls(**preset)


__all__ = ["LiveChatConfig"]
