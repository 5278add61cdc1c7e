"""Frame features from image models that transformers loads: a transformers-native one (ResNet) and the offline
timm-wrapper EfficientNet-Lite0 that the quickstart uses."""

import numpy as np
import pytest
import torch
from transformers import ConvNextImageProcessor, ResNetConfig, ResNetModel

from hf_livechat.data.backbones import resolve_feature_model
from hf_livechat.data.features import FrameFeatureExtractor


@pytest.fixture(scope="module")
def tiny_resnet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resnet")
    torch.manual_seed(0)
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
    ResNetModel(config).save_pretrained(folder)
    ConvNextImageProcessor(size={"shortest_edge": 48}, crop_pct=1.0, image_mean=[0.4, 0.5, 0.6], image_std=[0.2, 0.25, 0.3]).save_pretrained(folder)
    return folder


def frames(n: int, size: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_a_transformers_image_model_gives_one_pooled_vector_per_frame(tiny_resnet):
    extractor = FrameFeatureExtractor(str(tiny_resnet), device="cpu", batch_size=3)
    assert extractor.feature_dim == FrameFeatureExtractor.feature_dim_of(str(tiny_resnet)) == 16
    assert extractor.input_size == (48, 48)  # read from the image processor
    assert extractor.mean.flatten().tolist() == pytest.approx([0.4, 0.5, 0.6])
    batch = frames(7)
    features = extractor(batch)
    assert features.shape == (7, 16) and features.dtype == np.float32
    # batching does not change a frame's features; different frames differ
    np.testing.assert_allclose(extractor(batch[2:3]), features[2:3], atol=1e-5)
    assert not np.allclose(features[0], features[1])


def test_the_offline_efficientnet_and_bad_frames(tmp_path):
    extractor = FrameFeatureExtractor(resolve_feature_model("efficientnet-lite0"), device="cpu", input_size=(64, 64))
    assert extractor.feature_dim == 1280
    assert extractor(frames(2, size=64)).shape == (2, 1280)
    assert extractor(frames(0, size=64)).shape == (0, 1280)
    with pytest.raises(ValueError, match="uint8"):
        extractor(frames(2).astype(np.float32))
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        extractor(frames(2)[..., :2])
