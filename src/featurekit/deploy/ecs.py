"""Deploy the feature server on ECS Fargate: point the service's container at this commit's image.

Terraform (``modules/feature_server``) owns the service, its load balancer, health check and autoscaling, and the
first task definition. A deploy reads the service's current task definition; when its ``feature-server`` container
already runs ``<feature_server_image>:<commit>`` nothing happens; otherwise the same definition is registered again
with the new image (a new revision: everything else, roles, CPU, memory, environment, health check, is kept) and the
service is updated to it. ECS then rolls tasks over behind the load balancer's ``/health`` check.
"""

from __future__ import annotations

from featurekit.deploy.artifacts import DeployError
from featurekit.deploy.context import DeployContext

CONTAINER = "feature-server"
_REGISTER_KEYS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
)


def deploy_ecs(ctx: DeployContext, image_tag: str) -> None:
    cluster, service = ctx.deploy.ecs_cluster, ctx.deploy.ecs_service
    image = f"{ctx.deploy.feature_server_image}:{image_tag}"
    ecs = ctx.aws("ecs")
    services = ecs.describe_services(cluster=cluster, services=[service])["services"]
    if not services or services[0].get("status") != "ACTIVE":
        raise DeployError(f"ECS service {service} in cluster {cluster} not found: apply the Terraform root first")
    current = ecs.describe_task_definition(taskDefinition=services[0]["taskDefinition"])["taskDefinition"]
    containers = current["containerDefinitions"]
    if CONTAINER not in {c["name"] for c in containers}:
        raise DeployError(f"task definition {current['taskDefinitionArn']} has no container named {CONTAINER!r}")
    if next(c for c in containers if c["name"] == CONTAINER)["image"] == image:
        ctx.record("ecs", "unchanged", f"service {service}", image)
        return
    ctx.record("ecs", "register", f"task definition {current['family']}", image)
    ctx.record("ecs", "update-service", f"service {service}", f"cluster {cluster}")
    if ctx.dry_run:
        return
    definition = {k: current[k] for k in _REGISTER_KEYS if current.get(k) not in (None, [], "")}
    definition["containerDefinitions"] = [
        {**c, "image": image} if c["name"] == CONTAINER else c for c in current["containerDefinitions"]
    ]
    arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
