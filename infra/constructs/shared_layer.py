"""The Lambda layer every function shares: the ``llm_twin`` package + its light runtime dependencies."""

from __future__ import annotations

from aws_cdk import AssetHashType, BundlingOptions
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundling import LayerBundler
from infra.paths import LAYER_PACKAGE_DIR

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64  # Graviton: ~20% cheaper per GB-second than x86_64


class SharedLayer(Construct):
    """Exposes ``layer`` (an ``ILayerVersion``), plus ``runtime``/``architecture`` that its wheels fit.

    Bundled locally by :class:`infra.bundling.LayerBundler` (no Docker). The asset hash is the hash of
    the bundled output, so a new upstream release of a dependency publishes a new layer version, while
    an unchanged tree re-uses the uploaded one. Unit tests skip bundling
    (context ``aws:cdk:bundling-stacks: []``).
    """

    runtime = RUNTIME
    architecture = ARCHITECTURE

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        code = lambda_.Code.from_asset(
            str(LAYER_PACKAGE_DIR),
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(image=RUNTIME.bundling_image, local=LayerBundler(LAYER_PACKAGE_DIR)),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="llm_twin library + light runtime dependencies (pyproject [project].dependencies)",
            license="Apache-2.0",
        )
