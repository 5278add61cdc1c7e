from .configuration_v2lc import V2LCConfig
from .modeling_v2lc import (
    LOGIT_SCALE_MAX,
    V2LCContrastiveLoss,
    V2LCFrameEncoder,
    V2LCModel,
    V2LCOutput,
    V2LCPreTrainedModel,
    gather_with_grad,
    multi_positive_contrastive_loss,
    retrieval_accuracy,
)
from .processing_v2lc import V2LCProcessor
