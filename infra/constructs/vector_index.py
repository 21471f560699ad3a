"""The vector index: a managed Amazon OpenSearch Service domain (k-NN, faiss HNSW) behind IAM (SigV4).

Why a managed domain and not OpenSearch Serverless: vector collections reject custom document ids and
upserts (re-indexing a document would be search-then-delete) and keep at least 2 OCUs running
(~$350/month); a t3.small.search domain supports ids, upserts and filtered k-NN for ~$27/month.

Access is IAM-only (no fine-grained access control, no master user): the domain access policy allows
exactly the roles granted here (``grant_read_write`` / ``grant_read``), and each role gets the matching
identity policy. The index itself (mapping, alias ``config.vector.index_name``) is created by the
indexer at run time, not by CloudFormation.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct, IValidation

from infra import nag
from infra.config import InfraConfig
from infra.constructs.common import log_retention, removal_policy

ENGINE_VERSION = opensearch.EngineVersion.OPENSEARCH_2_19  # latest 2.x in aws-cdk-lib 2.275
DOMAIN_NAME_MAX = 28  # OpenSearch Service limit
# Explicit HTTP verbs (never es:ESHttp*). PATCH is not used by opensearch-py's document/index APIs.
READ_WRITE_ACTIONS = ("es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete")
READ_ACTIONS = ("es:ESHttpGet", "es:ESHttpHead")
# Readers may POST only to the query APIs of the index alias (and versioned indices behind it):
# a search carries its query in a POST body, but POST elsewhere (_bulk, _doc, _update) would write.
SEARCH_APIS = ("_search", "_msearch", "_count", "_mget")
LOG_TYPES = ("SearchSlowLogs", "IndexSlowLogs", "ApplicationLogs")


def pin_role_name(role: iam.IRole, name: str) -> None:
    """Give a role a fixed physical name, so a domain in *another* stack can name it in its access
    policy without a cross-stack reference (the role's stack already imports from the domain's).

    ``name`` may contain pseudo parameters (``Aws.REGION``): they resolve identically in every stack
    of one environment.
    """
    cfn = role.node.default_child
    if not isinstance(cfn, iam.CfnRole):
        raise TypeError(f"{role.node.path}: not a role created in this app")
    cfn.role_name = name


def nag_resource_id(scope: Construct, resource: str) -> str:
    """The id cdk-nag gives a wildcard resource finding (``IAM5[Resource::...]``) for ``resource``,
    rendered like cdk-nag's ``flattenCfnReference`` (pseudo parameters as ``<AWS::Region>``)."""

    def visit(node: Any) -> str:
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if isinstance(node, dict) and "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(visit(item) for item in items)
        if isinstance(node, dict) and "Ref" in node:
            return f"<{visit(node['Ref'])}>"
        raise ValueError(f"unexpected intrinsic in a grant resource: {node!r}")

    return f"Resource::{visit(Stack.of(scope).resolve(resource))}"


@jsii.implements(IValidation)
class _HasClients:
    def __init__(self, index: VectorIndex) -> None:
        self._index = index

    def validate(self) -> list[str]:
        if self._index.clients:
            return []
        return ["VectorIndex: no role was granted access (grant_read_write / grant_read)"]


class VectorIndex(Construct):
    """Exposes ``domain``, ``endpoint`` (``https://...``), ``index_name``, ``log_groups``, ``clients``
    (principal ARNs by access level) and ``grant_read_write(role)`` / ``grant_read(role)``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, log_key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        cfg = config.vector
        self.index_name = cfg.index_name
        # A fixed name (one domain per environment, like the stack names): its ARN is known in every
        # stack without a reference, for the domain's own access policy, the log groups' resource
        # policy and the clients' identity policies. A retained domain makes re-creating the same
        # environment fail loudly instead of silently paying for a second domain.
        self.domain_name = config.prefix
        if len(self.domain_name) > DOMAIN_NAME_MAX:  # envName is at most 16 characters
            raise ValueError(f"domain name {self.domain_name!r} longer than {DOMAIN_NAME_MAX}")
        self._arn = self.domain_arn_in(self)
        self._writers: list[str] = []
        self._readers: list[str] = []

        self.log_groups = {
            log_type: logs.LogGroup(
                self,
                log_type,
                encryption_key=log_key,
                retention=log_retention(config),
                removal_policy=removal_policy(config),
            )
            for log_type in LOG_TYPES
        }
        # A native AWS::Logs::ResourcePolicy instead of the Domain's custom resource (a Lambda with an
        # AWS managed policy); one per environment (CloudWatch Logs allows 10 per region).
        logs_policy = logs.ResourcePolicy(
            self,
            "LogsResourcePolicy",
            resource_policy_name=f"{config.prefix}-opensearch-logs",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("es.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[group.log_group_arn for group in self.log_groups.values()],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                        "ArnLike": {"aws:SourceArn": self._arn},
                    },
                )
            ],
        )
        self.domain = opensearch.Domain(
            self,
            "Domain",
            domain_name=self.domain_name,
            version=ENGINE_VERSION,
            enable_version_upgrade=True,  # engine upgrades in place (a named domain cannot be replaced)
            capacity=opensearch.CapacityConfig(
                data_node_instance_type=cfg.instance_type,
                data_nodes=cfg.instance_count,
                multi_az_with_standby_enabled=False,  # needs 3 AZs + dedicated masters; not on t3
            ),
            zone_awareness=opensearch.ZoneAwarenessConfig(
                enabled=cfg.availability_zones > 1,
                availability_zone_count=cfg.availability_zones if cfg.availability_zones > 1 else None,
            ),
            ebs=opensearch.EbsOptions(
                enabled=True, volume_size=cfg.ebs_gb, volume_type=ec2.EbsDeviceVolumeType.GP3
            ),
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),  # AWS managed key aws/es
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
            logging=opensearch.LoggingOptions(
                slow_search_log_enabled=True,
                slow_search_log_group=self.log_groups["SearchSlowLogs"],
                slow_index_log_enabled=True,
                slow_index_log_group=self.log_groups["IndexSlowLogs"],
                app_log_enabled=True,
                app_log_group=self.log_groups["ApplicationLogs"],
            ),
            suppress_logs_resource_policy=True,
            enable_auto_software_update=True,
            off_peak_window_enabled=True,
            removal_policy=removal_policy(config),
        )
        # OpenSearch checks at creation that it may write to the log groups.
        self.domain.node.add_dependency(logs_policy)
        self.endpoint = f"https://{self.domain.domain_endpoint}"
        self.node.add_validation(_HasClients(self))
        self._acknowledge(config)

    @property
    def clients(self) -> dict[str, list[str]]:
        """Principal ARNs (tokens) in the access policy: ``{"read_write": [...], "read": [...]}``."""
        return {
            level: list(arns)
            for level, arns in (("read_write", self._writers), ("read", self._readers))
            if arns
        }

    def domain_arn_in(self, scope: Construct) -> str:
        """The domain's ARN as ``scope``'s stack writes it (pseudo parameters, no import)."""
        return Stack.of(scope).format_arn(service="es", resource="domain", resource_name=self.domain_name)

    def grant_read_write(self, role: iam.IRole) -> None:
        """Index, update, delete documents and create/alias indices: GET/HEAD/POST/PUT/DELETE."""
        principal = self._principal_arn(role)  # fails before anything is granted
        self._grant(role, list(READ_WRITE_ACTIONS), [f"{self.domain_arn_in(role)}/*"])
        self._writers.append(principal)
        self._update_access_policy()

    def grant_read(self, role: iam.IRole) -> None:
        """GET/HEAD anywhere in the domain, POST only to the query APIs of the index (alias)."""
        principal = self._principal_arn(role)
        self._grant(role, list(READ_ACTIONS), [f"{self.domain_arn_in(role)}/*"])
        self._grant(role, ["es:ESHttpPost"], self._search_paths(self.domain_arn_in(role)))
        self._readers.append(principal)
        self._update_access_policy()

    @staticmethod
    def _grant(role: iam.IRole, actions: list[str], resources: list[str]) -> None:
        iam.Grant.add_to_principal(grantee=role, actions=actions, resource_arns=resources)
        for resource in resources:
            nag.acknowledge(
                role,
                f"AwsSolutions-IAM5[{nag_resource_id(role, resource)}]",
                "OpenSearch HTTP permissions are granted on request paths under the domain ARN: "
                "'<domain>/*' is the narrowest resource covering the index, bulk and alias APIs; readers "
                "may POST only to the query APIs of the index alias ('<domain>/<index>*/_search').",
            )

    def _search_paths(self, domain_arn: str) -> list[str]:
        return [f"{domain_arn}/{self.index_name}*/{api}" for api in SEARCH_APIS]

    def _principal_arn(self, role: iam.IRole) -> str:
        stack = Stack.of(self)
        if Stack.of(role) is stack:
            return role.role_arn
        cfn = role.node.default_child
        name = cfn.role_name if isinstance(cfn, iam.CfnRole) else None
        # An unnamed L2 role's role_name is a token resolving to None (CloudFormation names it).
        if name is None or Stack.of(role).resolve(name) is None:
            raise ValueError(
                f"{role.node.path}: a role in another stack needs a fixed name (pin_role_name) to be "
                "named in the domain access policy without a cyclic cross-stack reference"
            )
        return stack.format_arn(service="iam", region="", resource="role", resource_name=name)

    def _update_access_policy(self) -> None:
        """Principal = this account, narrowed by ``aws:PrincipalArn`` to exactly the granted roles.

        Naming the roles as principals would make OpenSearch resolve them to unique ids when the policy
        is set: the data stack deploys before the roles exist (creation fails), and a re-created role
        would silently lose access. The condition is evaluated per request instead.
        """
        account = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:root"

        def allow(
            sid: str, actions: list[str], resources: list[str], principals: list[str]
        ) -> dict[str, Any]:
            return {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": actions,
                "Resource": resources,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": principals}},
            }

        statements = []
        if self._writers:
            statements.append(allow("ReadWrite", list(READ_WRITE_ACTIONS), [f"{self._arn}/*"], self._writers))
        if self._readers:
            statements.append(allow("Read", list(READ_ACTIONS), [f"{self._arn}/*"], self._readers))
            statements.append(
                allow("Search", ["es:ESHttpPost"], self._search_paths(self._arn), self._readers)
            )
        cfn = self.domain.node.default_child
        assert isinstance(cfn, opensearch.CfnDomain)
        cfn.access_policies = {"Version": "2012-10-17", "Statement": statements}

    def _acknowledge(self, config: InfraConfig) -> None:
        nag.acknowledge(
            self.domain,
            "AwsSolutions-OS1",
            "Public endpoint with IAM (SigV4) authentication: inside a VPC the Lambda functions would need "
            "a NAT gateway (~$32/month + data) or interface endpoints for Bedrock, SQS, X-Ray, CloudWatch "
            "Logs (~$7/month each per AZ) - more than the domain itself for a single-author deployment. "
            "Unsigned and anonymous requests are refused (only the granted roles are allowed).",
        )
        nag.acknowledge(
            self.domain,
            "AwsSolutions-OS3",
            "The callers are Lambda functions without fixed source IPs; access is granted to named IAM "
            "roles (aws:PrincipalArn) with SigV4-signed requests instead of an IP allowlist.",
        )
        nag.acknowledge(
            self.domain,
            "AwsSolutions-OS4",
            "Dedicated master nodes add three more instances (~$80/month even as t3.small) to a "
            "one-node dev domain; the index is derived data, rebuilt from the warehouse if lost.",
        )
        if config.vector.availability_zones == 1:
            nag.acknowledge(
                self.domain,
                "AwsSolutions-OS7",
                "Zone awareness needs a data node per AZ (double the cost); the index is derived data, "
                "rebuilt from the warehouse. Enable with -c vectorAvailabilityZones=2 "
                "-c vectorInstanceCount=2.",
            )
