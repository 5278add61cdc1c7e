"""hf-livechat: live-comment (danmaku, Twitch chat) modelling for the Hugging Face ecosystem.

Importing the package registers its configs, models and processors with transformers' Auto classes (and so loads
torch). The data modules themselves (`hf_livechat.data.chat`, `.clips`, `.media`, `.transcripts`) import no torch.
"""

__version__ = "0.1.0"

from .models import (
    AffectFusionConfig,
    AffectFusionForSequenceClassification,
    LiveChatConfig,
    LiveChatForCommentGeneration,
    LiveChatModel,
    LiveChatProcessor,
    V2LCConfig,
    V2LCModel,
    V2LCProcessor,
    register_auto_classes,
)
from .models.livechat import LiveChatForPretraining
from .pipelines import VideoCommentGenerationPipeline, register_pipelines

register_auto_classes()
register_pipelines()

__all__ = [
    "LiveChatConfig",
    "LiveChatModel",
    "LiveChatForCommentGeneration",
    "LiveChatForPretraining",
    "LiveChatProcessor",
    "V2LCConfig",
    "V2LCModel",
    "V2LCProcessor",
    "AffectFusionConfig",
    "AffectFusionForSequenceClassification",
    "VideoCommentGenerationPipeline",
]
