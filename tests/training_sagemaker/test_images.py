"""The pinned images: URIs per region, and the pins agree with the SageMaker SDK's own image tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.sagemaker import images


def test_image_uris_for_a_commercial_region() -> None:
    assert images.training_image_uri("us-east-1") == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "huggingface-pytorch-training:2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04"
    )
    assert images.processing_image_uri("eu-west-1") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.9.0-cpu-py312"
    )
    assert images.inference_image_uri("us-west-2").startswith(
        "763104351884.dkr.ecr.us-west-2.amazonaws.com/djl-inference:0.35.0-lmi"
    )


def test_opt_in_and_china_regions_use_their_own_registry_and_domain() -> None:
    assert images.training_image_uri("af-south-1").startswith(
        "626614931356.dkr.ecr.af-south-1.amazonaws.com/"
    )
    assert images.training_image_uri("cn-north-1").startswith(
        "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/"
    )


def test_unsupported_region_is_an_error_naming_the_supported_ones() -> None:
    with pytest.raises(images.UnsupportedRegionError, match="us-east-1"):
        images.training_image_uri("xx-nowhere-1")


def _sdk_table(name: str) -> dict:
    core = pytest.importorskip("sagemaker.core")
    path = Path(core.__file__).parent / "image_uri_config" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{path} not found in the installed SDK")
    return json.loads(path.read_text())


def test_pins_match_the_sdk_image_tables() -> None:
    """The tags and registry accounts are the SDK's (sagemaker 3.x image_uri_config)."""
    hf = _sdk_table("huggingface")["training"]["versions"]["5.3.0"]["pytorch2.9.0"]
    assert hf["repository"] == images.TRAINING_REPOSITORY
    assert f"2.9.0-transformers5.3.0-gpu-py312-{hf['container_version']['gpu']}" == images.TRAINING_TAG
    assert dict(images.DLC_ACCOUNTS) == hf["registries"]
    torch = _sdk_table("pytorch")["training"]["versions"]["2.9.0"]
    assert torch["repository"] == images.PROCESSING_REPOSITORY
    assert "py312" in torch["py_versions"]
    lmi = _sdk_table("djl-lmi")["versions"]["0.35.0"]
    assert lmi["repository"] == images.INFERENCE_REPOSITORY
    assert lmi["tag_prefix"] == images.INFERENCE_TAG
    for table in (torch["registries"], lmi["registries"]):
        assert {region: table[region] for region in images.DLC_ACCOUNTS} == dict(images.DLC_ACCOUNTS)


def test_sdk_retrieves_the_same_uris() -> None:
    image_uris = pytest.importorskip("sagemaker.core.image_uris")
    assert image_uris.retrieve(
        framework="huggingface",
        region="eu-central-1",
        version="5.3.0",
        base_framework_version="pytorch2.9.0",
        py_version="py312",
        instance_type="ml.g5.2xlarge",
        image_scope="training",
    ) == images.training_image_uri("eu-central-1")
    assert image_uris.retrieve(
        framework="pytorch",
        region="eu-central-1",
        version="2.9.0",
        py_version="py312",
        instance_type="ml.m5.xlarge",
        image_scope="training",
    ) == images.processing_image_uri("eu-central-1")
