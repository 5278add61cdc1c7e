"""Model families of hf-livechat, and their registration with transformers' Auto classes."""

from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification, AutoProcessor

from .affect_fusion import AffectFusionConfig, AffectFusionForSequenceClassification
from .livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatModel, LiveChatProcessor
from .v2lc import V2LCConfig, V2LCModel, V2LCProcessor


def register_auto_classes() -> None:
    """Registers every model family with the Auto classes (local use) and for auto class on save (remote code).

    `AutoModel` answers with `LiveChatForCommentGeneration`, the class users generate and fine-tune with; the bare
    encoder-decoder stays importable as `LiveChatModel`.
    """
    AutoConfig.register(LiveChatConfig.model_type, LiveChatConfig, exist_ok=True)
    AutoModel.register(LiveChatConfig, LiveChatForCommentGeneration, exist_ok=True)
    AutoModelForSeq2SeqLM.register(LiveChatConfig, LiveChatForCommentGeneration, exist_ok=True)
    AutoProcessor.register(LiveChatConfig, LiveChatProcessor, exist_ok=True)
    LiveChatConfig.register_for_auto_class()
    LiveChatForCommentGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")
    LiveChatProcessor.register_for_auto_class("AutoProcessor")

    AutoConfig.register(V2LCConfig.model_type, V2LCConfig, exist_ok=True)
    AutoModel.register(V2LCConfig, V2LCModel, exist_ok=True)
    AutoProcessor.register(V2LCConfig, V2LCProcessor, exist_ok=True)
    V2LCConfig.register_for_auto_class()
    V2LCModel.register_for_auto_class("AutoModel")
    V2LCProcessor.register_for_auto_class("AutoProcessor")

    AutoConfig.register(AffectFusionConfig.model_type, AffectFusionConfig, exist_ok=True)
    AutoModelForSequenceClassification.register(AffectFusionConfig, AffectFusionForSequenceClassification, exist_ok=True)
    AffectFusionConfig.register_for_auto_class()
    AffectFusionForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")


__all__ = [
    "LiveChatConfig",
    "LiveChatModel",
    "LiveChatForCommentGeneration",
    "LiveChatProcessor",
    "V2LCConfig",
    "V2LCModel",
    "V2LCProcessor",
    "AffectFusionConfig",
    "AffectFusionForSequenceClassification",
    "register_auto_classes",
]
