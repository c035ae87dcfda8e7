"""Checks that the template, as SAM expands it, tells a person when something breaks:
every function logs into a group that expires, every failure has an alarm, every alarm
and its all-clear reach a topic that mails a person (a path needing none of the stack's
functions) and tells Slack, every custom metric an alarm watches is the stack's own (a
`Stack` dimension), and every public function has a concurrency bound; and that each function's role grants exactly what its
code calls (infra/iam-needs.json, kept equal to the handlers' ports by a test in
shared/app) and what Lambda does on its behalf (its log group, the stream it reads, the
queue its failures go to): no wildcard, no action nothing uses, nothing missing. The
linters check that the template deploys; this checks that the deployed stack is watched
and holds no more power than it uses.

    check-template.py TRANSFORMED.json              the template's problems, exit 1 if any
    check-template.py --self-test TRANSFORMED.json  each check catches what it is for
"""

import copy
import json
import os
import re
import sys

NEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "iam-needs.json")
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords",
               "dynamodb:GetShardIterator", "dynamodb:ListStreams"]


def of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def ref(value):
    """The logical id a `Ref` or `GetAtt` names, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".")[0]
    return None


def name(value):
    """A resource as the needs file spells it: `Table.Arn`, `Secrets`, a `Sub` string, `*`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return value["Ref"]
    if "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return ".".join(att) if isinstance(att, list) else att
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]
    return json.dumps(value, sort_keys=True)


def as_list(value):
    return value if isinstance(value, list) else [value]


def on_behalf(resources, function_id, function):
    """What Lambda itself does with the function's role: write its logs, read the
    stream that feeds it, send what failed to its failure queue."""
    needs = set()
    group = ref(function["Properties"].get("LoggingConfig", {}).get("LogGroup"))
    if group:
        needs |= {(a, f"{group}.Arn") for a in ["logs:CreateLogStream", "logs:PutLogEvents"]}
    for kind in ["AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"]:
        for config in of_type(resources, kind).values():
            props = config["Properties"]
            if ref(props.get("FunctionName")) != function_id:
                continue
            if "EventSourceArn" in props:
                needs |= {(a, name(props["EventSourceArn"])) for a in STREAM_READ}
            failed = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if failed is not None:
                needs.add(("sqs:SendMessage", name(failed)))
    return needs


def granted(role_id, role):
    """(action, resource) pairs a role allows, and what is wrong with how it says so."""
    pairs, found = set(), []
    props = role["Properties"]
    if props.get("ManagedPolicyArns"):
        found.append(f"role {role_id} attaches managed policies, which grant on `*`")
    for policy in props.get("Policies", []):
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            if "NotAction" in statement or "NotResource" in statement:
                found.append(f"role {role_id} grants by exclusion (NotAction/NotResource)")
                continue
            if statement.get("Effect") != "Allow":
                continue
            for action in as_list(statement["Action"]):
                if "*" in action:
                    found.append(f"role {role_id} grants the wildcard action {action}")
                for resource in as_list(statement["Resource"]):
                    if name(resource) == "*":
                        found.append(f"role {role_id} grants {action} on every resource (`*`)")
                    pairs.add((action, name(resource)))
    return pairs, found


def iam_problems(template, needs):
    resources = template["Resources"]
    found = []
    roles = of_type(resources, "AWS::IAM::Role")
    checked = set()
    for function_id, function in of_type(resources, "AWS::Lambda::Function").items():
        role_id = ref(function["Properties"].get("Role"))
        if role_id not in roles:
            found.append(f"function {function_id} has no role of its own in the template")
            continue
        if function_id not in needs:
            found.append(f"function {function_id} is not in infra/iam-needs.json")
            continue
        pairs, wrong = granted(role_id, roles[role_id])
        found += wrong
        checked.add(role_id)
        wanted = {tuple(p) for p in needs[function_id]} | on_behalf(resources, function_id, function)
        for action, resource in sorted(pairs - wanted):
            found.append(f"role {role_id} grants {action} on {resource}, which neither the code of "
                         f"{function_id} nor Lambda on its behalf uses")
        for action, resource in sorted(wanted - pairs):
            found.append(f"role {role_id} lacks {action} on {resource}, which {function_id} calls")
    # The roles SAM makes (the schedules') hold no wildcard either.
    for role_id, role in roles.items():
        if role_id not in checked:
            found += granted(role_id, role)[1]
    return found


def alarm_targets(alarm):
    """The logical ids an alarm's metric names in its dimensions (plain or metric math)."""
    props = alarm["Properties"]
    dimensions = list(props.get("Dimensions", []))
    for metric in props.get("Metrics", []):
        dimensions += metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
    return {(d["Name"], ref(d["Value"])) for d in dimensions}


def alarm_metrics(alarm):
    """(namespace, dimension names) of each metric an alarm watches, plain or in metric math."""
    props = alarm["Properties"]
    stats = [{"Namespace": props.get("Namespace"), "Dimensions": props.get("Dimensions", [])}]
    stats += [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
    return [(m.get("Namespace"), {d["Name"] for d in m.get("Dimensions", [])})
            for m in stats if m.get("Namespace")]


def public_functions(resources):
    """Functions anyone on the internet can invoke: behind a Function URL, or an API."""
    public = {ref(url["Properties"]["TargetFunctionArn"])
              for url in of_type(resources, "AWS::Lambda::Url").values()}
    for permission in of_type(resources, "AWS::Lambda::Permission").values():
        props = permission["Properties"]
        if props.get("Principal") == "apigateway.amazonaws.com":
            public.add(ref(props["FunctionName"]))
    return public - {None}


def bounded(concurrency):
    """A reserved concurrency that bounds the function: a number or a parameter, or a
    condition that gives one (its other branch is a deliberate choice, which the deploy
    checks against the account's quota)."""
    if concurrency is None:
        return False
    if isinstance(concurrency, dict) and "Fn::If" in concurrency:
        return any(bounded(branch) for branch in concurrency["Fn::If"][1:])
    return concurrency != {"Ref": "AWS::NoValue"}


def timeouts_in(expression):
    """The `fN / MS` pairs of a near-timeout expression."""
    return dict(re.findall(r"\b(\w+) / (\d+)\b", expression))


def problems(template):
    resources = template["Resources"]
    found = []
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    topics = of_type(resources, "AWS::SNS::Topic")
    watched = set().union(*(alarm_targets(a) for a in alarms.values())) if alarms else set()

    subscriptions = of_type(resources, "AWS::SNS::Subscription").values()
    mailed = {ref(s["Properties"]["TopicArn"]) for s in subscriptions
              if s["Properties"]["Protocol"] == "email"}
    told = {ref(s["Properties"]["TopicArn"]) for s in subscriptions
            if s["Properties"]["Protocol"] == "lambda"}
    for name in topics:
        if name not in mailed:
            found.append(f"topic {name} mails no one: its alarms reach a person only through "
                         "the stack's own functions")
        if name not in told:
            found.append(f"topic {name} reaches no function that tells ops in Slack")

    for name, alarm in alarms.items():
        for kind, what in [("AlarmActions", "alarm"), ("OKActions", "all-clear")]:
            actions = {ref(a) for a in alarm["Properties"].get(kind, [])}
            if not actions & set(topics):
                found.append(f"alarm {name}'s {what} reaches no person ({kind} names no SNS topic)")
        for namespace, dimensions in alarm_metrics(alarm):
            if not namespace.startswith("AWS/") and "Stack" not in dimensions:
                found.append(f"alarm {name} watches a {namespace} metric without the Stack "
                             "dimension: another stack in the region sets it off")
        for metric in alarm["Properties"].get("Metrics", []):
            pairs = timeouts_in(metric.get("Expression", ""))
            for m in alarm["Properties"]["Metrics"]:
                if (m["Id"] not in pairs or "MetricStat" not in m
                        or m["MetricStat"]["Metric"]["MetricName"] != "Duration"):
                    continue
                function = ref(m["MetricStat"]["Metric"]["Dimensions"][0]["Value"])
                timeout = resources.get(function, {}).get("Properties", {}).get("Timeout")
                if timeout is not None and int(pairs[m["Id"]]) != int(timeout) * 1000:
                    found.append(f"alarm {name} divides {function}'s duration by "
                                 f"{pairs[m['Id']]} ms, but its timeout is {timeout} s")

    for name in sorted(public_functions(resources)):
        concurrency = resources[name]["Properties"].get("ReservedConcurrentExecutions")
        if not bounded(concurrency):
            found.append(f"public function {name} has no concurrency bound "
                         "(ReservedConcurrentExecutions): a flood can take the worker's")

    groups = of_type(resources, "AWS::Logs::LogGroup")
    for name, group in groups.items():
        if "RetentionInDays" not in group["Properties"]:
            found.append(f"log group {name} is kept forever (RetentionInDays)")
    for name, function in of_type(resources, "AWS::Lambda::Function").items():
        group = ref(function["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        if group not in groups:
            found.append(f"function {name} logs into Lambda's own group, kept forever")
        if ("FunctionName", name) not in watched:
            found.append(f"function {name} has no alarm on its errors")

    for name in of_type(resources, "AWS::SQS::Queue"):
        if ("QueueName", name) not in watched:
            found.append(f"failure queue {name} has no alarm on its messages")

    for name, schedule in of_type(resources, "AWS::Scheduler::Schedule").items():
        if "DeadLetterConfig" not in schedule["Properties"]["Target"]:
            found.append(f"schedule {name} drops a run it cannot start (DeadLetterConfig)")

    for name, stage in of_type(resources, "AWS::ApiGatewayV2::Stage").items():
        route = stage["Properties"].get("DefaultRouteSettings", {})
        if "ThrottlingRateLimit" not in route or "ThrottlingBurstLimit" not in route:
            found.append(f"HTTP API stage {name} is not throttled")
    return found + iam_problems(template, load_needs())


def load_needs():
    with open(NEEDS) as f:
        return json.load(f)


def self_test(template):
    """Each way of breaking the template is caught by the check meant for it."""
    resources = template["Resources"]

    def first(kind):
        return next(iter(of_type(resources, kind)))

    def drop_alarm_actions(r):
        del r[first("AWS::CloudWatch::Alarm")]["Properties"]["AlarmActions"]

    def drop_retention(r):
        del r[first("AWS::Logs::LogGroup")]["Properties"]["RetentionInDays"]

    def drop_log_group(r):
        del r[first("AWS::Lambda::Function")]["Properties"]["LoggingConfig"]["LogGroup"]

    def drop_queue_alarm(r):
        queue = first("AWS::SQS::Queue")
        for name, alarm in of_type(r, "AWS::CloudWatch::Alarm").items():
            if ("QueueName", queue) in alarm_targets(alarm):
                del r[name]

    def drop_errors_alarm(r):
        function = first("AWS::Lambda::Function")
        for name, alarm in of_type(r, "AWS::CloudWatch::Alarm").items():
            if ("FunctionName", function) in alarm_targets(alarm):
                del r[name]

    def drop_dead_letters(r):
        del r[first("AWS::Scheduler::Schedule")]["Properties"]["Target"]["DeadLetterConfig"]

    def drop_throttle(r):
        del r[first("AWS::ApiGatewayV2::Stage")]["Properties"]["DefaultRouteSettings"]

    def drop_slack(r):
        for name, sub in of_type(r, "AWS::SNS::Subscription").items():
            if sub["Properties"]["Protocol"] == "lambda":
                del r[name]

    def function_role(r, function="LeadIntakeFunction"):
        return r[ref(r[function]["Properties"]["Role"])]["Properties"]

    def statements(r, function="LeadIntakeFunction"):
        return function_role(r, function)["Policies"][0]["PolicyDocument"]["Statement"]

    def add_dynamodb_star(r):
        statements(r).append({"Effect": "Allow", "Action": "dynamodb:*",
                              "Resource": {"Fn::GetAtt": ["Table", "Arn"]}})

    def resource_star(r):
        for statement in statements(r):
            if any(a.startswith("dynamodb:") for a in as_list(statement["Action"])):
                statement["Resource"] = "*"

    def add_unused_action(r):
        statements(r).append({"Effect": "Allow", "Action": ["dynamodb:Scan"],
                              "Resource": {"Fn::GetAtt": ["Table", "Arn"]}})

    def query_the_table_not_the_index(r):
        for statement in statements(r, "RedriveFunction"):
            if "dynamodb:Query" in as_list(statement["Action"]):
                statement["Resource"] = {"Fn::GetAtt": ["Table", "Arn"]}

    def drop_needed_action(r):
        for statement in statements(r, "NotionWebhookFunction"):
            actions = as_list(statement["Action"])
            if "secretsmanager:PutSecretValue" in actions:
                statement["Action"] = [a for a in actions if a != "secretsmanager:PutSecretValue"]

    def secret_write_for_all(r):
        statements(r).append({"Effect": "Allow", "Action": ["secretsmanager:PutSecretValue"],
                              "Resource": {"Ref": "Secrets"}})

    def drop_stream_read(r):
        kept = [s for s in statements(r, "WorkerFunction")
                if "dynamodb:GetRecords" not in as_list(s["Action"])]
        function_role(r, "WorkerFunction")["Policies"][0]["PolicyDocument"]["Statement"] = kept

    def managed_policy(r):
        function_role(r)["ManagedPolicyArns"] = [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]

    def sam_role(r):
        del r["LeadIntakeFunction"]["Properties"]["Role"]

    def drop_ok_actions(r):
        del r[first("AWS::CloudWatch::Alarm")]["Properties"]["OKActions"]

    def drop_email(r):
        for name, sub in of_type(r, "AWS::SNS::Subscription").items():
            if sub["Properties"]["Protocol"] == "email":
                del r[name]

    def drop_stack_dimension(r):
        for alarm in of_type(r, "AWS::CloudWatch::Alarm").values():
            props = alarm["Properties"]
            if props.get("Namespace") == "NotionCrm":
                props["Dimensions"] = [d for d in props["Dimensions"] if d["Name"] != "Stack"]
                return

    def unbound_webhook(r):
        del r["NotionWebhookFunction"]["Properties"]["ReservedConcurrentExecutions"]

    def unbound_intake(r):
        r["LeadIntakeFunction"]["Properties"]["ReservedConcurrentExecutions"] = {
            "Ref": "AWS::NoValue"}

    def timeout_drift(r):
        r["WorkerFunction"]["Properties"]["Timeout"] = 600

    failed = False
    for mutation in [drop_alarm_actions, drop_retention, drop_log_group, drop_queue_alarm,
                     drop_errors_alarm, drop_dead_letters, drop_throttle, drop_slack,
                     add_dynamodb_star, resource_star, add_unused_action,
                     query_the_table_not_the_index, drop_needed_action, secret_write_for_all,
                     drop_stream_read, managed_policy, sam_role, drop_ok_actions, drop_email,
                     drop_stack_dimension, unbound_webhook, unbound_intake, timeout_drift]:
        broken = copy.deepcopy(template)
        mutation(broken["Resources"])
        found = problems(broken)
        if not found:
            print(f"check-template: {mutation.__name__} went unnoticed", file=sys.stderr)
            failed = True
        elif os.environ.get("CHECK_TEMPLATE_VERBOSE"):
            print(f"{mutation.__name__}: {found[0]}")
    return failed


def main(args):
    testing = args[:1] == ["--self-test"]
    with open(args[-1]) as f:
        template = json.load(f)
    found = problems(template)
    for problem in found:
        print(f"check-template: {problem}", file=sys.stderr)
    if found or (testing and self_test(template)):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
