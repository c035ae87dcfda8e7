"""`make deploy` without knowing SAM: a preflight that names what is missing, the first
run's own few questions written to samconfig.toml (instead of `sam deploy --guided`,
whose "no authentication, is this okay?" questions default to N and abort), then
`sam build` and `sam deploy` exactly as samconfig.toml says. Later runs ask nothing and
override nothing; a run with nothing to change ends with 0.

    deploy.py tools                      Rust and python3-venv: what is missing (before the venv)
    deploy.py deploy                     credentials and region, the first run's questions, build, deploy
    deploy.py rehearse [--answers FILE] [--dir DIR] [--unreserved N]
                                         no AWS account: the questions answered from FILE (one
                                         answer a line; an empty line takes the default), the
                                         samconfig.toml it writes into DIR, the commands it would run

Standard library only, so that `tools` runs before anything is installed; `deploy` also
uses boto3, which the SAM CLI's venv brings.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# As template.yaml's AllowedPattern for each parameter: a wrong answer is asked again
# here rather than refused by CloudFormation minutes later.
DATA_SOURCE = r"^[0-9a-fA-F-]{32,36}$"
ALARM_EMAIL = r"^(none|[^@\s]+@[^@\s]+\.[^@\s]+)$"
STACK = r"^[A-Za-z][A-Za-z0-9-]{0,127}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"

# Instances each public function reserves by default (template.yaml, PublicConcurrency),
# and what Lambda keeps unreserved in every account: an account whose quota leaves less
# cannot reserve any, and a deploy that tries fails.
PUBLIC_CONCURRENCY = 10
PUBLIC_FUNCTIONS = 2
MIN_UNRESERVED = 100


def workspace_rust_version():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        match = re.search(r'(?m)^rust-version\s*=\s*"([\d.]+)"', f.read())
    return tuple(int(p) for p in match.group(1).split("."))


def version_of(text):
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(p or 0) for p in match.groups()) if match else None


def rustc_says():
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return ""


def tool_problems(rustc_out=None, has_venv=None):
    """What a deploy needs on this machine before anything is installed, each with its
    fix: from what `rustc --version` says (asked when not given) and whether Python can
    make a venv."""
    found = []
    wanted = workspace_rust_version()
    rustc_version = version_of(rustc_says() if rustc_out is None else rustc_out)
    if rustc_version is None:
        found.append("Rust is not installed: install it with rustup (https://rustup.rs).")
    elif rustc_version[: len(wanted)] < wanted:
        have = ".".join(map(str, rustc_version))
        found.append(f"Rust {have} is older than this workspace's {'.'.join(map(str, wanted))}: "
                     "run `rustup update`.")
    if has_venv is None:
        try:
            import ensurepip  # noqa: F401  (what Debian's python3-venv adds)
            import venv  # noqa: F401
            has_venv = True
        except ImportError:
            has_venv = False
    if not has_venv:
        found.append("Python cannot make a virtual environment: install python3-venv "
                     "(Debian/Ubuntu: `sudo apt install python3-venv`).")
    return found


def aws_problems():
    """Credentials and a region, as boto3 finds them (the SAM CLI finds them the same way)."""
    import boto3
    import botocore.exceptions

    session = boto3.Session()
    if session.get_credentials() is None:
        return ["No AWS credentials: run `aws configure` (or `aws sso login`), or set "
                "AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."], session
    try:
        session.client("sts", region_name=session.region_name or "us-east-1").get_caller_identity()
    except botocore.exceptions.BotoCoreError as e:
        return [f"AWS does not accept these credentials: {e}"], session
    except botocore.exceptions.ClientError as e:
        return [f"AWS does not accept these credentials: {e.response['Error']['Message']}"], session
    return [], session


class Questions:
    """The first run's questions, answered by a person (`input`) or from a file."""

    def __init__(self, answers=None, out=sys.stdout):
        self.answers = answers
        self.out = out

    def ask(self, prompt, pattern, default=None, explain=""):
        while True:
            shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
            if self.answers is None:
                answer = input(shown)
            else:
                if not self.answers:
                    raise SystemExit(f"deploy: no answer left for {prompt!r}")
                answer = self.answers.pop(0)
                print(f"{shown}{answer}", file=self.out)
            answer = answer.strip() or (default or "")
            if re.match(pattern, answer):
                return answer
            print(f"  not valid{': ' + explain if explain else ''}", file=self.out)


def first_run(questions, default_region, unreserved, out=sys.stdout):
    """The parameters a first deploy needs, asked once."""
    print("First deploy: a few questions, saved in samconfig.toml (edit it to change them).",
          file=out)
    stack = questions.ask("Stack name", STACK, "notion-crm",
                          "letters, digits and hyphens, starting with a letter")
    region = questions.ask("AWS region", REGION, default_region, "like eu-central-1")
    print("The three data source ids (`crm setup` prints them; or Notion's database menu "
          "\"Manage data sources\" > Copy data source ID):", file=out)
    ids = {name: questions.ask(f"  {name} data source id", DATA_SOURCE, None,
                               "32 hexadecimal digits, dashes allowed")
           for name in ["Contacts", "Deals", "Activities"]}
    alarm = questions.ask("E-mail address for alarms (or `none`)", ALARM_EMAIL, None,
                          "an e-mail address, or none")
    parameters = {
        "ContactsDataSourceId": ids["Contacts"],
        "DealsDataSourceId": ids["Deals"],
        "ActivitiesDataSourceId": ids["Activities"],
        "AlarmEmail": alarm,
        "Architecture": os.environ.get("ARCH", "arm64"),
    }
    if unreserved is not None and unreserved - PUBLIC_FUNCTIONS * PUBLIC_CONCURRENCY < MIN_UNRESERVED:
        parameters["PublicConcurrency"] = "0"
        print(f"This account runs at most {unreserved} Lambda instances at once, too few to "
              "reserve any for the public functions (Lambda keeps 100 unreserved): "
              "PublicConcurrency=0. Ask AWS for a higher \"Concurrent executions\" quota "
              "(Service Quotas > Lambda), then set it back to 10 in samconfig.toml.", file=out)
    return {"stack_name": stack, "region": region, "parameters": parameters}


def samconfig_text(config):
    overrides = " ".join(f'{k}="{v}"' for k, v in config["parameters"].items())
    quoted = overrides.replace("\\", "\\\\").replace('"', '\\"')
    return f"""# Written by `make deploy` on its first run; later runs use it as it is.
version = 0.1

[default.global.parameters]
stack_name = "{config['stack_name']}"
region = "{config['region']}"

[default.build.parameters]
parameter_overrides = "{quoted}"

[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
resolve_s3 = true
confirm_changeset = false
fail_on_empty_changeset = false
parameter_overrides = "{quoted}"
"""


def read_samconfig(path):
    import tomllib

    with open(path, "rb") as f:
        config = tomllib.load(f)
    default = config.get("default", {})
    overrides = default.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    if isinstance(overrides, list):
        overrides = " ".join(overrides)
    parameters = dict(p.split("=", 1) for p in shlex.split(overrides) if "=" in p)
    return default.get("global", {}).get("parameters", {}), parameters


def commands():
    """What a deploy runs, each as samconfig.toml configures it: nothing given on the
    command line overrides it."""
    return [["sam", "build"], ["sam", "deploy"]]


def warnings(parameters):
    found = []
    if parameters.get("AlarmEmail", "none") == "none":
        found.append("AlarmEmail is none: alarms are mailed to no one and reach only the ops "
                     "Slack webhook, if the secret has one. Set an address in samconfig.toml.")
    return found


def next_steps(stack):
    return f"""
Next:
  1. crm secret set --stack {stack}          the Notion token, form secrets, Slack webhooks
  2. Point website forms at IntakeUrl above (README, "Connect a form").
  3. crm webhook listen --stack {stack}      then create the Notion webhook subscription with
                                           WebhookUrl and click Verify: the token is stored.
  4. Confirm the alarm subscription AWS mailed to the AlarmEmail address.
"""


def prepare(path, questions, default_region, unreserved, out=sys.stdout):
    """samconfig.toml: written from the questions on the first run, else read as it is."""
    if not os.path.exists(path):
        config = first_run(questions, default_region, unreserved, out)
        with open(path, "w") as f:
            f.write(samconfig_text(config))
        print(f"wrote {os.path.relpath(path)}", file=out)
    return read_samconfig(path)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["tools", "deploy", "rehearse"])
    parser.add_argument("--answers")
    parser.add_argument("--dir", default=ROOT)
    parser.add_argument("--unreserved", type=int)
    args = parser.parse_args(argv)

    if args.mode == "tools":
        found = tool_problems()
        for problem in found:
            print(f"deploy: {problem}", file=sys.stderr)
        return 1 if found else 0

    path = os.path.join(args.dir, "samconfig.toml")
    if args.mode == "rehearse":
        answers = None
        if args.answers:
            with open(args.answers) as f:
                answers = f.read().splitlines()
        settings, parameters = prepare(path, Questions(answers if answers is not None else []),
                                       "us-east-1", args.unreserved)
        for warning in warnings(parameters):
            print(f"deploy: warning: {warning}")
        for command in commands():
            print("would run: " + " ".join(command))
        print(next_steps(settings.get("stack_name", "notion-crm")))
        return 0

    found, session = aws_problems()
    for problem in found:
        print(f"deploy: {problem}", file=sys.stderr)
    if found:
        return 1
    unreserved = None
    if not os.path.exists(path):
        try:
            limits = session.client("lambda", region_name=session.region_name or "us-east-1")
            unreserved = limits.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
        except Exception as e:  # the quota is a hint; the deploy goes on without it
            print(f"deploy: could not read the account's Lambda quota ({e})", file=sys.stderr)
    settings, parameters = prepare(path, Questions(), session.region_name or "us-east-1",
                                   unreserved)
    for warning in warnings(parameters):
        print(f"deploy: warning: {warning}", file=sys.stderr)
    for command in commands():
        print("+ " + " ".join(command), file=sys.stderr)
        done = subprocess.run(command, cwd=ROOT)
        if done.returncode != 0:
            return done.returncode
    for warning in warnings(parameters):
        print(f"deploy: warning: {warning}", file=sys.stderr)
    print(next_steps(settings.get("stack_name", "notion-crm")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
