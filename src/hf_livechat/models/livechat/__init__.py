from .configuration_livechat import LiveChatConfig
from .modeling_livechat import (
    LiveChatCommentGenerationOutput,
    LiveChatDecoder,
    LiveChatEncoder,
    LiveChatEncoderOutput,
    LiveChatForCommentGeneration,
    LiveChatForPretraining,
    LiveChatModel,
    LiveChatModelOutput,
    LiveChatPreTrainedModel,
    LiveChatPretrainingOutput,
)
from .processing_livechat import LM_COMMENT_END, LiveChatProcessor
