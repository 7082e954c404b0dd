#!/usr/bin/python3
"""Checks deploy/ecs offline, as far as anything can without an AWS account.

  /usr/bin/python3 tests/deploy/validate_ecs.py deploy/ecs [--emit DIR]
      [--registered FILE...]

- Every template is YAML that CloudFormation accepts: no anchors or aliases
  (CloudFormation refuses them; yaml.safe_load would expand them silently)
  and no tags but CloudFormation's short-form intrinsics (!Ref, !Sub, ...).
- cloudformation.yaml references only what it defines, creates no ECR
  repository (they live in repositories.yaml, filled before the services
  start), takes its images from the repositories stack at the ImageTag
  parameter, gives every secret a value, starts the gateway after the
  backends, registers the backends in Cloud Map, health-checks the gateway
  with /livez, and autoscales the detector and the gateway (at least 2).
- Its task definitions and services, turned into ECS API requests, pass
  botocore's ParamValidator (Debian's python3-botocore model of
  RegisterTaskDefinition, CreateService and UpdateService), with rolling
  updates (100/200 %), the circuit breaker with rollback, health checks,
  stop timeouts over the grace period, awslogs and read-only root
  filesystems.
- --registered: task definitions deploy.sh registered must pass the
  validator too and equal the template's but for the image tag (the
  template is the one definition).
- --emit DIR: writes the API requests (task-definitions/*.json,
  services/*.json) for the fake aws and the moto test.
Prints one line per problem and exits 1 if there is any.
"""
import argparse
import copy
import json
import pathlib
import re
import sys

import botocore.session
import botocore.validate
import yaml

GRACE_PERIOD_SECONDS = 20
SERVICES = ("storage", "detector", "overlay", "gateway")
BACKENDS = ("storage", "detector", "overlay")
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::Partition",
          "AWS::URLSuffix", "AWS::NoValue", "AWS::StackId", "AWS::NotificationARNs"}
# CloudFormation's short-form tags, and the long-form key each stands for.
INTRINSIC_TAGS = {
    "!Ref": "Ref", "!Condition": "Condition", "!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr",
    "!FindInMap": "Fn::FindInMap", "!GetAtt": "Fn::GetAtt", "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue", "!Join": "Fn::Join", "!Select": "Fn::Select",
    "!Split": "Fn::Split", "!Sub": "Fn::Sub", "!Transform": "Fn::Transform",
    "!And": "Fn::And", "!Equals": "Fn::Equals", "!If": "Fn::If", "!Not": "Fn::Not",
    "!Or": "Fn::Or", "!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
}
# Sample values for what only exists in an account.
SAMPLE_PARAMETERS = {
    "VpcId": "vpc-0123456789abcdef0",
    "PrivateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "PublicSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    "ImageTag": "0123456789ab",
    "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
}
SAMPLE_PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012",
                 "AWS::StackName": "stache", "AWS::Partition": "aws",
                 "AWS::URLSuffix": "amazonaws.com"}
# Keys chosen by the user, not API field names: left as they are.
USER_KEYED = {"DockerLabels", "Options"}

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


class CloudFormationLoader(yaml.SafeLoader):
    """safe_load plus CloudFormation's short-form tags, as long forms."""


def _intrinsic(tag, key):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "!GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}
    return construct


for _tag, _key in INTRINSIC_TAGS.items():
    CloudFormationLoader.add_constructor(_tag, _intrinsic(_tag, _key))


def load_template(path):
    """The template, or None after reporting why CloudFormation would refuse it."""
    text = pathlib.Path(path).read_text()
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = getattr(event, "start_mark", None)
            where = f"{path}:{line.line + 1}" if line else str(path)
            if isinstance(event, yaml.AliasEvent):
                problem(where, f"YAML alias *{event.anchor}: CloudFormation refuses aliases")
            elif getattr(event, "anchor", None):
                problem(where, f"YAML anchor &{event.anchor}: CloudFormation refuses anchors")
            tag = getattr(event, "tag", None)
            if tag and tag.startswith("!") and tag not in INTRINSIC_TAGS:
                problem(where, f"YAML tag {tag} is not a CloudFormation intrinsic function")
        return yaml.load(text, Loader=CloudFormationLoader)
    except yaml.YAMLError as error:
        problem(path, f"does not parse: {error}")
        return None


def references(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                template = value[0] if isinstance(value, list) else value
                local = set(value[1].keys()) if isinstance(value, list) else set()
                for name in re.findall(r"\$\{([^}!]+)\}", template):
                    name = name.split(".")[0]
                    if name not in local:
                        found.add(name)
            references(value, found)
    elif isinstance(node, list):
        for item in node:
            references(item, found)


class Resolver:
    """Evaluates intrinsic functions with sample values for what only an
    account has (parameters without defaults, resource ids, exports)."""

    def __init__(self, template):
        self.parameters = {}
        for name, spec in template.get("Parameters", {}).items():
            self.parameters[name] = SAMPLE_PARAMETERS.get(name, spec.get("Default"))
        self.resources = template.get("Resources", {})

    def ref(self, name):
        if name in SAMPLE_PSEUDO:
            return SAMPLE_PSEUDO[name]
        if name in self.parameters:
            value = self.parameters[name]
            return value if isinstance(value, list) else str(value)
        resource = self.resources[name]
        if resource["Type"] == "AWS::ECS::Cluster":
            return resource["Properties"].get("ClusterName", name)
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            return f"{resource['Properties']['Family']}:1"
        if resource["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup":
            return f"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/{name}/1"
        if resource["Type"] == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}-AbCdEf"
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            return "sg-0123456789abcdef0"
        return f"{name.lower()}-sample"

    def get_att(self, name, attribute):
        if attribute == "Arn" or attribute.endswith("Arn"):
            return f"arn:aws:service:eu-west-1:123456789012:{name.lower()}"
        return f"{name.lower()}-{attribute.lower()}"

    def sub(self, template, local):
        def replace(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))
        return re.sub(r"\$\{([^}]+)\}", replace, template)

    def resolve(self, node):
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                return self.get_att(*(value if isinstance(value, list) else value.split(".", 1)))
            if key == "Fn::Sub":
                if isinstance(value, list):
                    return self.sub(value[0], self.resolve(value[1]))
                return self.sub(value, {})
            if key == "Fn::ImportValue":
                export = self.resolve(value)
                service = export.rsplit("-", 1)[-1]
                return f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/stache-{service}"
            if key == "Fn::Join":
                return value[0].join(str(item) for item in self.resolve(value[1]))
        return {key: self.resolve(value) for key, value in node.items()}


def to_api(node, user_keyed=False):
    """CloudFormation's property names (PascalCase) as the ECS API's (camelCase)."""
    if isinstance(node, list):
        return [to_api(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {(key if user_keyed else key[0].lower() + key[1:]): to_api(value, key in USER_KEYED)
            for key, value in node.items()}


def validate(model, operation, params, where):
    shape = model.operation_model(operation).input_shape
    report = botocore.validate.ParamValidator().validate(params, shape)
    if report.has_errors():
        problem(where, f"{operation}: {report.generate_report()}")


def check_task_definition(model, where, definition):
    validate(model, "RegisterTaskDefinition", definition, where)
    for container in definition.get("containerDefinitions", []):
        name = container.get("name")
        if "healthCheck" not in container:
            problem(where, f"container {name} has no healthCheck")
        if container.get("stopTimeout", 30) <= GRACE_PERIOD_SECONDS:
            problem(where, f"container {name}: stopTimeout must exceed the "
                           f"{GRACE_PERIOD_SECONDS}s grace period")
        if container.get("logConfiguration", {}).get("logDriver") != "awslogs":
            problem(where, f"container {name} does not log with awslogs")
        if not container.get("readonlyRootFilesystem"):
            problem(where, f"container {name} must have a read-only root filesystem")
    if not definition.get("cpu") or not definition.get("memory"):
        problem(where, "task cpu and memory must be set")


def check_service(model, where, service):
    validate(model, "CreateService", service, where)
    update = {"cluster": service["cluster"], "service": service["serviceName"]}
    for key in ("taskDefinition", "desiredCount", "deploymentConfiguration",
                "networkConfiguration", "serviceRegistries", "loadBalancers",
                "healthCheckGracePeriodSeconds", "propagateTags", "enableECSManagedTags"):
        if key in service:
            update[key] = service[key]
    validate(model, "UpdateService", update, where)
    deployment = service.get("deploymentConfiguration", {})
    if deployment.get("minimumHealthyPercent") != 100 or deployment.get("maximumPercent") != 200:
        problem(where, "rolling updates need minimumHealthyPercent 100 and maximumPercent 200")
    breaker = deployment.get("deploymentCircuitBreaker", {})
    if not (breaker.get("enable") and breaker.get("rollback")):
        problem(where, "the deployment circuit breaker must be enabled with rollback")


def of_type(resources, kind):
    return {name: r for name, r in resources.items() if r.get("Type") == kind}


def check_stack(path, template):
    """What a first create needs, and what the services rely on."""
    resources = template.get("Resources", {})
    defined = set(resources) | set(template.get("Parameters", {})) | PSEUDO
    found = set()
    references(template, found)
    for name in sorted(found - defined):
        problem(path, f"references {name}, which it does not define")
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        for dependency in [depends] if isinstance(depends, str) else depends:
            if dependency not in resources:
                problem(path, f"{name} depends on undefined {dependency}")
    if of_type(resources, "AWS::ECR::Repository"):
        problem(path, "ECR repositories belong in repositories.yaml: in this stack they are "
                      "empty when the services first start")
    for name, secret in of_type(resources, "AWS::SecretsManager::Secret").items():
        properties = secret.get("Properties", {})
        if "SecretString" not in properties and "GenerateSecretString" not in properties:
            problem(path, f"secret {name} is created without a value")
    services = {r["Properties"].get("ServiceName"): (name, r)
                for name, r in of_type(resources, "AWS::ECS::Service").items()}
    task_definitions = {r["Properties"].get("Family"): r
                        for r in of_type(resources, "AWS::ECS::TaskDefinition").values()}
    for service in SERVICES:
        if service not in services or f"stache-{service}" not in task_definitions:
            problem(path, f"{service}: service or task definition missing")
            continue
        for container in task_definitions[f"stache-{service}"]["Properties"]["ContainerDefinitions"]:
            image = json.dumps(container.get("Image"))
            if "ImportValue" not in image or "${ImageTag}" not in image:
                problem(path, f"{service}: the image must come from the repositories stack "
                              "at the ImageTag parameter")
    if "gateway" in services:
        depends = services["gateway"][1].get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        for backend in BACKENDS:
            if backend in services and services[backend][0] not in depends:
                problem(path, f"the gateway's service must depend on {services[backend][0]}")
    for backend in BACKENDS:
        if backend in services and not services[backend][1]["Properties"].get("ServiceRegistries"):
            problem(path, f"{backend} is not registered in Cloud Map (one A record per task)")
        if backend in services and services[backend][1]["Properties"].get(
                "ServiceConnectConfiguration"):
            problem(path, f"{backend}: Service Connect hides the replicas from the gateway's "
                          "round robin; use the Cloud Map DNS names")
    target_group = resources.get("GatewayTargetGroup", {}).get("Properties", {})
    if target_group.get("HealthCheckPath") != "/livez":
        problem(path, "the target group must health-check /livez (this gateway can serve), "
                      "not /readyz (every backend answers), so a backend blip cannot "
                      "take every gateway out")
    delay = {a["Key"]: a["Value"] for a in target_group.get("TargetGroupAttributes", [])}
    if int(delay.get("deregistration_delay.timeout_seconds", 300)) <= GRACE_PERIOD_SECONDS:
        problem(path, "the deregistration delay must exceed the grace period")
    check_autoscaling(path, resources)


def check_autoscaling(path, resources):
    metric_of = {"detector": "ECSServiceAverageCPUUtilization",
                 "gateway": "ALBRequestCountPerTarget"}
    targets = of_type(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    policies = of_type(resources, "AWS::ApplicationAutoScaling::ScalingPolicy")
    for service, metric in metric_of.items():
        target = next((name for name, r in targets.items()
                       if f"{service.capitalize()}Service.Name" in json.dumps(
                           r["Properties"].get("ResourceId"))), None)
        if target is None:
            problem(path, f"{service} has no scalable target")
            continue
        if targets[target]["Properties"].get("MinCapacity", 0) < 2:
            problem(path, f"{service} must keep at least 2 tasks")
        tracking = [r["Properties"].get("TargetTrackingScalingPolicyConfiguration", {})
                    for r in policies.values()
                    if r["Properties"].get("ScalingTargetId") == {"Ref": target}]
        if not any(t.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType") == metric
                   for t in tracking):
            problem(path, f"{service} needs target tracking on {metric}")


def api_requests(template):
    """The template's task definitions and services as ECS API requests."""
    resolver = Resolver(template)
    resources = template.get("Resources", {})
    task_definitions, services = {}, {}
    for resource in of_type(resources, "AWS::ECS::TaskDefinition").values():
        definition = to_api(resolver.resolve(resource["Properties"]))
        task_definitions[definition["family"].removeprefix("stache-")] = definition
    for resource in of_type(resources, "AWS::ECS::Service").values():
        service = to_api(resolver.resolve(resource["Properties"]))
        service["taskDefinition"] = service["taskDefinition"].split(":")[0]
        services[service["serviceName"]] = service
    return task_definitions, services


def without_defaults(node):
    """Without the empty lists and maps ECS fills in when it reads a
    definition back (volumesFrom, systemControls, ...)."""
    if isinstance(node, dict):
        return {k: without_defaults(v) for k, v in node.items() if v not in ([], {})}
    if isinstance(node, list):
        return [without_defaults(item) for item in node]
    return node


def without_image_tag(definition):
    definition = without_defaults(copy.deepcopy(definition))
    for container in definition.get("containerDefinitions", []):
        container["image"] = container.get("image", "").rsplit(":", 1)[0]
        container.get("dockerLabels", {}).pop("org.opencontainers.image.revision", None)
        if container.get("cpu") == 0:  # ECS's default: no reservation
            del container["cpu"]
    return definition


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ecs_dir", type=pathlib.Path)
    parser.add_argument("--emit", type=pathlib.Path)
    parser.add_argument("--registered", nargs="*", default=[])
    options = parser.parse_args()
    model = botocore.session.get_session().get_service_model("ecs")

    templates = sorted(options.ecs_dir.glob("*.yaml"))
    loaded = {path.name: load_template(path) for path in templates}
    stack_path = options.ecs_dir / "cloudformation.yaml"
    template = loaded.get("cloudformation.yaml")
    if template is None:
        problem(stack_path, "missing or unreadable")
        task_definitions, services = {}, {}
    else:
        check_stack(stack_path, template)
        task_definitions, services = api_requests(template)
    if loaded.get("repositories.yaml") is None:
        problem(options.ecs_dir / "repositories.yaml", "missing or unreadable")
    elif len(of_type(loaded["repositories.yaml"].get("Resources", {}),
                     "AWS::ECR::Repository")) != len(SERVICES):
        problem(options.ecs_dir / "repositories.yaml", "needs one repository per service")
    for name, definition in sorted(task_definitions.items()):
        check_task_definition(model, f"{stack_path} task definition {name}", definition)
    for name, service in sorted(services.items()):
        check_service(model, f"{stack_path} service {name}", service)

    for path in options.registered:  # what deploy.sh registered
        definition = json.loads(pathlib.Path(path).read_text())
        check_task_definition(model, path, definition)
        service = definition.get("family", "").removeprefix("stache-")
        if service not in task_definitions:
            problem(path, f"no task definition of {service} in the template")
        elif without_image_tag(definition) != without_image_tag(task_definitions[service]):
            problem(path, "differs from the template's task definition in more than the "
                          "image tag")

    if options.emit:
        for kind, requests in (("task-definitions", task_definitions), ("services", services)):
            (options.emit / kind).mkdir(parents=True, exist_ok=True)
            for name, request in requests.items():
                (options.emit / kind / f"{name}.json").write_text(json.dumps(request, indent=2))
    for line in problems:
        print(line)
    print(f"validate_ecs: {len(templates)} templates, {len(task_definitions)} task definitions, "
          f"{len(services)} services, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
