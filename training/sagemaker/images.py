"""The container images the training workflow runs, pinned, for every region that has them.

All three are AWS Deep Learning Containers (DLC), pulled from the DLC registry account of the region
(``763104351884`` in most commercial regions; opt-in, China and GovCloud regions have their own):

* SFT / DPO training and evaluation (GPU):
  ``huggingface-pytorch-training:2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04`` — transformers 5
  (what ``training/`` is written against), PyTorch 2.9, CUDA 13, Python 3.12.
* dataset building (CPU): ``pytorch-training:2.9.0-cpu-py312`` — the same PyTorch/Python line without
  CUDA: the job calls Bedrock and runs MinHash, no GPU.
* serving (the model package's inference image): ``djl-inference:0.35.0-lmi17.0.0-cu128`` — DJL LMI with
  vLLM, what the SageMaker endpoint runs (transformers 4.x inside).

The tags and registry accounts are copied from the SageMaker Python SDK's image tables
(``sagemaker/core/image_uri_config/{huggingface,pytorch,djl-lmi}.json`` of sagemaker 3.27);
``tests/training_sagemaker/test_images.py`` checks them against the installed SDK, so a bump here is a
deliberate, reviewed change. Upgrading: pick a newer ``training`` version of the ``huggingface`` table
(and the matching ``pytorch`` CPU tag), run the fine-tuning tests, update docs/training.md.

The job code on top of an image is installed from ``requirements.txt`` (:mod:`training.sagemaker.source`):
torch is never in it, so the image's CUDA build is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

TRAINING_REPOSITORY = "huggingface-pytorch-training"
TRAINING_TAG = "2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04"
PROCESSING_REPOSITORY = "pytorch-training"
PROCESSING_TAG = "2.9.0-cpu-py312"
INFERENCE_REPOSITORY = "djl-inference"
INFERENCE_TAG = "0.35.0-lmi17.0.0-cu128"

REPOSITORIES = (TRAINING_REPOSITORY, PROCESSING_REPOSITORY, INFERENCE_REPOSITORY)

# Region -> DLC registry account, for the regions where all three images exist (the Hugging Face
# training image is the narrowest). Same values for the three repositories.
DLC_ACCOUNTS: Mapping[str, str] = MappingProxyType(
    {
        "af-south-1": "626614931356",
        "ap-east-1": "871362719292",
        "ap-northeast-1": "763104351884",
        "ap-northeast-2": "763104351884",
        "ap-northeast-3": "364406365360",
        "ap-south-1": "763104351884",
        "ap-southeast-1": "763104351884",
        "ap-southeast-2": "763104351884",
        "ap-southeast-3": "907027046896",
        "ca-central-1": "763104351884",
        "ca-west-1": "204538143572",
        "cn-north-1": "727897471807",
        "cn-northwest-1": "727897471807",
        "eu-central-1": "763104351884",
        "eu-north-1": "763104351884",
        "eu-south-1": "692866216735",
        "eu-west-1": "763104351884",
        "eu-west-2": "763104351884",
        "eu-west-3": "763104351884",
        "il-central-1": "780543022126",
        "me-central-1": "914824155844",
        "me-south-1": "217643126080",
        "sa-east-1": "763104351884",
        "us-east-1": "763104351884",
        "us-east-2": "763104351884",
        "us-gov-east-1": "446045086412",
        "us-gov-west-1": "442386744353",
        "us-iso-east-1": "886529160074",
        "us-isob-east-1": "094389454867",
        "us-west-1": "763104351884",
        "us-west-2": "763104351884",
    }
)


class UnsupportedRegionError(ValueError):
    """No pinned DLC registry for this region."""


def dlc_account(region: str) -> str:
    try:
        return DLC_ACCOUNTS[region]
    except KeyError:
        raise UnsupportedRegionError(
            f"no Deep Learning Container registry pinned for region {region!r}; "
            f"supported: {', '.join(sorted(DLC_ACCOUNTS))}"
        ) from None


def url_suffix(region: str) -> str:
    """The DNS suffix of AWS endpoints in the region's partition."""
    if region.startswith("cn-"):
        return "amazonaws.com.cn"
    if region.startswith("us-isob-"):
        return "sc2s.sgov.gov"
    if region.startswith("us-iso-"):
        return "c2s.ic.gov"
    return "amazonaws.com"


def image_uri(region: str, repository: str, tag: str) -> str:
    return f"{dlc_account(region)}.dkr.ecr.{region}.{url_suffix(region)}/{repository}:{tag}"


def training_image_uri(region: str) -> str:
    """The Hugging Face PyTorch training DLC (GPU) for SFT, DPO and evaluation."""
    return image_uri(region, TRAINING_REPOSITORY, TRAINING_TAG)


def processing_image_uri(region: str) -> str:
    """The PyTorch CPU DLC the dataset-building Processing job runs."""
    return image_uri(region, PROCESSING_REPOSITORY, PROCESSING_TAG)


def inference_image_uri(region: str) -> str:
    """The DJL LMI (vLLM) image registered in the model package's inference specification."""
    return image_uri(region, INFERENCE_REPOSITORY, INFERENCE_TAG)
