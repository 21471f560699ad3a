"""AWS Deep Learning Container images of a construct: their URIs and the ECR repositories to pull from.

With the stack's region known at synth the URI is a plain string (training/sagemaker/images.py);
an environment-agnostic stack resolves the DLC registry account of ``AWS::Region`` through one
``CfnMapping`` (``DlcRegistry``) created under the owning construct on first use.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, CfnMapping, Stack, Token
from constructs import Construct

from infra.config import ConfigError
from training.sagemaker import images

# <account>.dkr.ecr.<region>.<suffix>/<repository>(:<tag>|@<digest>)
IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.[^/]+/([^:@]+)[:@]")


class DlcImages:
    def __init__(self, scope: Construct) -> None:
        self._scope = scope
        self._mapping: CfnMapping | None = None

    def uri(self, repository: str, tag: str) -> str:
        region = Stack.of(self._scope).region
        if not Token.is_unresolved(region):
            return images.image_uri(region, repository, tag)
        return f"{self.account()}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{repository}:{tag}"

    def account(self) -> str:
        region = Stack.of(self._scope).region
        if not Token.is_unresolved(region):
            return images.dlc_account(region)
        if self._mapping is None:
            self._mapping = CfnMapping(
                self._scope,
                "DlcRegistry",
                mapping={name: {"account": account} for name, account in images.DLC_ACCOUNTS.items()},
            )
        return self._mapping.find_in_map(Aws.REGION, "account")

    def repository_arn(self, override: str | None, repository: str) -> str:
        """The ECR repository an image is pulled from: the configured ``override`` URI's, else the
        DLC ``repository`` of this region."""
        if override:
            match = IMAGE.match(override)
            if not match:
                raise ConfigError(f"cannot derive the ECR repository of {override!r}")
            account, region, name = match.groups()
            return f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{name}"
        return f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{self.account()}:repository/{repository}"
