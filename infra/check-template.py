"""Checks that the template, as SAM expands it, tells a person when something breaks:
every function logs into a group that expires, every failure has an alarm, and every
alarm reaches the alarms topic. The linters check that the template deploys; this checks
that the deployed stack is watched.

    check-template.py TRANSFORMED.json              the template's problems, exit 1 if any
    check-template.py --self-test TRANSFORMED.json  each check catches what it is for
"""

import copy
import json
import sys


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


def alarm_targets(alarm):
    """The logical ids an alarm's metric names in its dimensions (plain or metric math)."""
    props = alarm["Properties"]
    dimensions = list(props.get("Dimensions", []))
    for metric in props.get("Metrics", []):
        dimensions += metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
    return {(d["Name"], ref(d["Value"])) for d in dimensions}


def problems(template):
    resources = template["Resources"]
    found = []
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    topics = of_type(resources, "AWS::SNS::Topic")
    watched = set().union(*(alarm_targets(a) for a in alarms.values())) if alarms else set()

    for name, alarm in alarms.items():
        actions = {ref(a) for a in alarm["Properties"].get("AlarmActions", [])}
        if not actions & set(topics):
            found.append(f"alarm {name} reaches no SNS topic (AlarmActions)")

    subscribers = {
        ref(sub["Properties"]["TopicArn"]): sub["Properties"]["Protocol"]
        for sub in of_type(resources, "AWS::SNS::Subscription").values()
        if sub["Properties"]["Protocol"] == "lambda"
    }
    for name in topics:
        if name not in subscribers:
            found.append(f"topic {name} reaches no function that tells ops in Slack")

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
    return found


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

    failed = False
    for mutation in [drop_alarm_actions, drop_retention, drop_log_group, drop_queue_alarm,
                     drop_errors_alarm, drop_dead_letters, drop_throttle, drop_slack]:
        broken = copy.deepcopy(template)
        mutation(broken["Resources"])
        if not problems(broken):
            print(f"check-template: {mutation.__name__} went unnoticed", file=sys.stderr)
            failed = True
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
