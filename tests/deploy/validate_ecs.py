#!/usr/bin/python3
"""Checks deploy/ecs offline: every task and service definition against the
ECS API model in Debian's python3-botocore (its ParamValidator on the
RegisterTaskDefinition, CreateService and UpdateService input shapes), the
rolling-update settings the project relies on, and that the CloudFormation
template parses and references only what it defines.

  /usr/bin/python3 tests/deploy/validate_ecs.py deploy/ecs [rendered-task-defs...]
Prints one line per problem and exits 1 if there is any.
"""
import json
import pathlib
import re
import sys

import botocore.session
import botocore.validate
import yaml

GRACE_PERIOD_SECONDS = 20
SAMPLE = {
    "IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stache-detector:abc123",
    "REGION": "eu-west-1", "REVISION": "abc123", "LOG_GROUP": "/stache",
    "EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/exec",
    "TASK_ROLE_ARN": "arn:aws:iam::123456789012:role/task",
    "STORAGE_BUCKET": "stache-bucket",
    "STORAGE_POLICY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:p",
    "GATEWAY_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:t",
    "SESSION_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s",
    "CLUSTER": "stache", "SUBNET_A": "subnet-1", "SUBNET_B": "subnet-2",
    "SERVICE_SECURITY_GROUP": "sg-1", "NAMESPACE": "stache",
    "TARGET_GROUP_ARN": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g/1",
}
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::Partition",
          "AWS::URLSuffix", "AWS::NoValue", "AWS::StackId"}

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def render(path):
    text = pathlib.Path(path).read_text()
    for key, value in SAMPLE.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{(\w+)\}\}", text)
    if left:
        problem(path, f"placeholders without a sample value: {left}")
    return json.loads(text)


def validate(model, operation, params, where):
    shape = model.operation_model(operation).input_shape
    report = botocore.validate.ParamValidator().validate(params, shape)
    if report.has_errors():
        problem(where, f"{operation}: {report.generate_report()}")


def check_task_definition(model, path, definition):
    validate(model, "RegisterTaskDefinition", definition, path)
    for container in definition.get("containerDefinitions", []):
        name = container.get("name")
        if "healthCheck" not in container:
            problem(path, f"container {name} has no healthCheck")
        if container.get("stopTimeout", 30) <= GRACE_PERIOD_SECONDS:
            problem(path, f"container {name}: stopTimeout must exceed the {GRACE_PERIOD_SECONDS}s grace period")
        if container.get("logConfiguration", {}).get("logDriver") != "awslogs":
            problem(path, f"container {name} does not log with awslogs")
    if not definition.get("cpu") or not definition.get("memory"):
        problem(path, "task cpu and memory must be set")


def check_service(model, path, service, task_definitions):
    validate(model, "CreateService", service, path)
    update = {"cluster": service["cluster"], "service": service["serviceName"]}
    for key in ("taskDefinition", "desiredCount", "deploymentConfiguration",
                "networkConfiguration", "serviceConnectConfiguration",
                "loadBalancers", "healthCheckGracePeriodSeconds", "propagateTags",
                "enableECSManagedTags"):
        if key in service:
            update[key] = service[key]
    validate(model, "UpdateService", update, path)
    deployment = service.get("deploymentConfiguration", {})
    if deployment.get("minimumHealthyPercent") != 100 or deployment.get("maximumPercent") != 200:
        problem(path, "rolling updates need minimumHealthyPercent 100 and maximumPercent 200")
    breaker = deployment.get("deploymentCircuitBreaker", {})
    if not (breaker.get("enable") and breaker.get("rollback")):
        problem(path, "the deployment circuit breaker must be enabled with rollback")
    family = service.get("taskDefinition")
    task = task_definitions.get(family)
    if task is None:
        problem(path, f"no task definition with family {family}")
        return
    port_names = {m.get("name"): m.get("containerPort")
                  for c in task["containerDefinitions"] for m in c.get("portMappings", [])}
    for connect in service.get("serviceConnectConfiguration", {}).get("services", []):
        if connect.get("portName") not in port_names:
            problem(path, f"Service Connect port {connect.get('portName')} is not a port name of {family}")


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


def check_cloudformation(path):
    try:
        template = yaml.safe_load(pathlib.Path(path).read_text())
    except yaml.YAMLError as error:
        problem(path, f"does not parse: {error}")
        return
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
    for service in ("Detector", "Overlay", "Storage", "Gateway"):
        if f"{service}Service" not in resources or f"{service}Repository" not in resources:
            problem(path, f"{service} service or ECR repository missing")
    attributes = resources.get("GatewayTargetGroup", {}).get("Properties", {})
    if attributes.get("HealthCheckPath") != "/readyz":
        problem(path, "the target group must health-check /readyz")
    delay = {a["Key"]: a["Value"] for a in attributes.get("TargetGroupAttributes", [])}
    if int(delay.get("deregistration_delay.timeout_seconds", 300)) <= GRACE_PERIOD_SECONDS:
        problem(path, "the deregistration delay must exceed the grace period")


def main():
    ecs_dir = pathlib.Path(sys.argv[1])
    model = botocore.session.get_session().get_service_model("ecs")
    task_definitions = {}
    for path in sorted((ecs_dir / "task-definitions").glob("*.json")):
        definition = render(path)
        check_task_definition(model, path, definition)
        task_definitions[definition.get("family")] = definition
    for path in sys.argv[2:]:  # task definitions rendered by deploy.sh
        definition = json.loads(pathlib.Path(path).read_text())
        check_task_definition(model, path, definition)
    services = sorted((ecs_dir / "services").glob("*.json"))
    for path in services:
        check_service(model, path, render(path), task_definitions)
    check_cloudformation(ecs_dir / "cloudformation.yaml")
    if len(task_definitions) != 4 or len(services) != 4:
        problem(ecs_dir, "expected four task definitions and four services")
    for line in problems:
        print(line)
    print(f"validate_ecs: {len(task_definitions)} task definitions, {len(services)} services, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
