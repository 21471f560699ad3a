"""``llm-twin deploy`` / ``llm-twin undeploy``: the SageMaker LMI endpoint under manual control.

Deploy takes the newest **Approved** version of the model package group (or ``--model-package ARN``) and
creates or updates the endpoint the API invokes; undeploy deletes the endpoint and its endpoint config
and keeps models and packages. The logic lives in :mod:`training.sagemaker.deploy` (boto3, imported
when a command runs); settings come from ``LLM_TWIN_DEPLOY_*`` variables, the options override them.
Locally nothing needs deploying: ``llm-twin ask`` talks to the local LMI server (inference/README.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from llm_twin.cli.main import AddCommand
from llm_twin.errors import InvalidInputError
from llm_twin.settings import Settings


def _deploy_settings(args: argparse.Namespace, settings: Settings) -> Any:
    from pydantic import ValidationError

    from training.sagemaker.deploy import DeploySettings

    overrides = {
        key: value
        for key, value in (
            ("endpoint_name", args.endpoint_name),
            ("instance_type", getattr(args, "instance_type", None)),
            ("instance_count", getattr(args, "instance_count", None)),
            ("role_arn", getattr(args, "role_arn", None)),
            ("model_package_group", getattr(args, "group", None)),
        )
        if value is not None
    }
    try:
        deploy_settings = DeploySettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"invalid deploy settings: {problems}") from None
    if deploy_settings.aws_endpoint_url is None and settings.aws_endpoint_url:
        deploy_settings = deploy_settings.model_copy(update={"aws_endpoint_url": settings.aws_endpoint_url})
    return deploy_settings


def cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    from training.sagemaker.deploy import deploy, sagemaker_client

    deploy_settings = _deploy_settings(args, settings)
    result = deploy(
        sagemaker_client(deploy_settings),
        deploy_settings,
        model_package_arn=args.model_package,
        wait=args.wait,
        force=args.force,
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    print(
        f"{result.action} endpoint {result.endpoint_name} ({result.status}): "
        f"{result.instance_count} x {result.instance_type}"
    )
    print(f"  model package  {result.model_package_arn}")
    print(f"  model data     {result.model_data_url or '(from the package)'}")
    print(f"  model/config   {result.model_name}")
    if result.deleted_endpoint_config:
        print(f"  removed        previous endpoint config {result.deleted_endpoint_config}")
    if not args.wait:
        print(
            "  not waiting: the endpoint takes ~5-15 min to be InService "
            f"(aws sagemaker wait endpoint-in-service --endpoint-name {result.endpoint_name})"
        )
    return 0


def cmd_undeploy(args: argparse.Namespace, settings: Settings) -> int:
    from training.sagemaker.deploy import sagemaker_client, undeploy

    deploy_settings = _deploy_settings(args, settings)
    result = undeploy(sagemaker_client(deploy_settings), deploy_settings, wait=args.wait, force=args.force)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    elif not result.deleted:
        print(f"no endpoint {result.endpoint_name}: nothing to undeploy")
    else:
        print(f"deleted endpoint {result.endpoint_name} and its config {result.endpoint_config_name}")
        if result.kept_model:
            print(f"  kept model {result.kept_model} and the model packages (deploy again to restore)")
    return 0


def register(add: AddCommand) -> None:
    """Add ``deploy`` and ``undeploy`` to the ``llm-twin`` parser."""
    p = add("deploy", cmd_deploy, "deploy the newest approved twin model to the SageMaker LMI endpoint")
    p.add_argument(
        "--model-package",
        metavar="ARN",
        help="an Approved model package version (default: the newest Approved one of the group)",
    )
    p.add_argument(
        "--instance-type", metavar="TYPE", help="e.g. ml.g5.xlarge (LLM_TWIN_DEPLOY_INSTANCE_TYPE)"
    )
    p.add_argument("--instance-count", type=int, metavar="N", help="instances (default 1)")
    p.add_argument(
        "--group", metavar="NAME", help="model package group (LLM_TWIN_DEPLOY_MODEL_PACKAGE_GROUP)"
    )
    p.add_argument(
        "--role-arn", metavar="ARN", help="execution role: the serving stack's LmiExecutionRoleArn output"
    )
    p.add_argument("--endpoint-name", metavar="NAME", help="default: LLM_TWIN_LMI_ENDPOINT_NAME")
    p.add_argument("--wait", action="store_true", help="block until InService, then drop the old config")
    p.add_argument("--force", action="store_true", help="also change an endpoint CloudFormation manages")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = add("undeploy", cmd_undeploy, "delete the LMI endpoint (models and packages are kept)")
    p.add_argument("--endpoint-name", metavar="NAME", help="default: LLM_TWIN_LMI_ENDPOINT_NAME")
    p.add_argument("--wait", action="store_true", help="block until the endpoint is gone")
    p.add_argument("--force", action="store_true", help="also delete an endpoint CloudFormation manages")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
