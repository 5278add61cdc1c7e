"""Pipelines: comments for a video (`pipeline("video-comment-generation")`), live commenting, outputs to watch."""

from transformers import AutoModelForSeq2SeqLM
from transformers.pipelines import PIPELINE_REGISTRY

from .video_comment_generation import VideoCommentGenerationPipeline


def register_pipelines() -> None:
    PIPELINE_REGISTRY.register_pipeline(
        "video-comment-generation",
        pipeline_class=VideoCommentGenerationPipeline,
        pt_model=AutoModelForSeq2SeqLM,
        type="multimodal",
    )


__all__ = ["VideoCommentGenerationPipeline", "register_pipelines"]
