"""A first deploy rehearsed without an account: the questions answered from a file,
the samconfig.toml they make, and the commands `make deploy` would run.

    python3 infra/test_deploy.py
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deploy  # noqa: E402

CONTACTS = "0123456789abcdef0123456789abcdef"
DEALS = "11111111-2222-3333-4444-555555555555"
ACTIVITIES = "fedcba9876543210fedcba9876543210"


def rehearse(directory, answers, *extra):
    with open(os.path.join(directory, "answers"), "w") as f:
        f.write("\n".join(answers) + "\n")
    return subprocess.run(
        [sys.executable, os.path.join(HERE, "deploy.py"), "rehearse",
         "--answers", os.path.join(directory, "answers"), "--dir", directory, *extra],
        capture_output=True, text=True, env={**os.environ, "ARCH": "arm64"})


class FirstDeploy(unittest.TestCase):
    def test_the_answers_make_samconfig_and_the_commands_use_it_as_it_is(self):
        with tempfile.TemporaryDirectory() as d:
            # A wrong id and a wrong address are asked again; empty answers take defaults.
            done = rehearse(d, ["", "eu-central-1", CONTACTS, "not-an-id", DEALS, ACTIVITIES,
                                "ops@", "ops@example.com"])
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout.count("not valid"), 2, done.stdout)
            with open(os.path.join(d, "samconfig.toml")) as f:
                text = f.read()
            self.assertIn('stack_name = "notion-crm"', text)
            self.assertIn('region = "eu-central-1"', text)
            settings, parameters = deploy.read_samconfig(os.path.join(d, "samconfig.toml"))
            self.assertEqual(settings["stack_name"], "notion-crm")
            self.assertEqual(parameters, {
                "ContactsDataSourceId": CONTACTS, "DealsDataSourceId": DEALS,
                "ActivitiesDataSourceId": ACTIVITIES, "AlarmEmail": "ops@example.com",
                "Architecture": "arm64"})
            self.assertIn("capabilities = \"CAPABILITY_IAM\"", text)
            self.assertIn("confirm_changeset = false", text)
            self.assertIn("fail_on_empty_changeset = false", text)
            # The exact commands: nothing on the command line overrides samconfig.toml.
            self.assertEqual(re.findall(r"(?m)^would run: (.*)$", done.stdout),
                             ["sam build", "sam deploy"])
            self.assertNotIn("warning", done.stdout)
            self.assertIn("crm secret set --stack notion-crm", done.stdout)

            # A later run asks nothing and leaves samconfig.toml as it is.
            with open(os.path.join(d, "samconfig.toml"), "a") as f:
                f.write("# edited by hand\n")
            again = rehearse(d, [])
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertNotIn("First deploy", again.stdout)
            with open(os.path.join(d, "samconfig.toml")) as f:
                self.assertTrue(f.read().endswith("# edited by hand\n"))

    def test_sam_reads_samconfig_as_written(self):
        """SAM's own reader (the lint venv's, as `make test` runs this file) finds the
        stack, the region and every parameter in what the first run wrote."""
        try:
            from samcli.lib.config.samconfig import SamConfig
        except ImportError:
            self.skipTest("the SAM CLI is not importable (run with infra/lint-template.sh's venv)")
        with tempfile.TemporaryDirectory() as d:
            rehearse(d, ["crm-a", "eu-west-1", CONTACTS, DEALS, ACTIVITIES, "a@example.com"])
            config = SamConfig(d)
            deploy_params = config.get_all(["deploy"], "parameters")
            global_params = config.get_all(["global"], "parameters")
            self.assertEqual(global_params["stack_name"], "crm-a")
            self.assertEqual(global_params["region"], "eu-west-1")
            overrides = deploy_params["parameter_overrides"]
            self.assertIn(f'DealsDataSourceId="{DEALS}"', overrides)
            self.assertIn('AlarmEmail="a@example.com"', overrides)
            self.assertIs(deploy_params["fail_on_empty_changeset"], False)

    def test_no_alarm_address_is_a_warning_on_every_run(self):
        with tempfile.TemporaryDirectory() as d:
            answers = ["crm-test", "us-west-2", CONTACTS, DEALS, ACTIVITIES, "none"]
            first = rehearse(d, answers)
            self.assertEqual(first.returncode, 0, first.stderr)
            self.assertIn("AlarmEmail is none", first.stdout)
            self.assertIn("AlarmEmail is none", rehearse(d, []).stdout)

    def test_an_account_too_small_to_reserve_concurrency_reserves_none(self):
        with tempfile.TemporaryDirectory() as d:
            answers = ["", "", CONTACTS, DEALS, ACTIVITIES, "a@example.com"]
            done = rehearse(d, answers, "--unreserved", "10")
            self.assertEqual(done.returncode, 0, done.stderr)
            _, parameters = deploy.read_samconfig(os.path.join(d, "samconfig.toml"))
            self.assertEqual(parameters["PublicConcurrency"], "0")
            self.assertIn("Concurrent executions", done.stdout)
        with tempfile.TemporaryDirectory() as d:
            rehearse(d, answers, "--unreserved", "1000")
            _, parameters = deploy.read_samconfig(os.path.join(d, "samconfig.toml"))
            self.assertNotIn("PublicConcurrency", parameters)

    def test_every_question_matches_the_template(self):
        """The patterns asked here are the template's own AllowedPattern."""
        with open(os.path.join(os.path.dirname(HERE), "template.yaml")) as f:
            template = f.read()
        for name, pattern in [("ContactsDataSourceId", deploy.DATA_SOURCE),
                              ("AlarmEmail", deploy.ALARM_EMAIL)]:
            block = re.split(r"\n  \S", template.split(f"\n  {name}:\n", 1)[1], 1)[0]
            allowed = re.search(r"AllowedPattern: \"?(.+?)\"?$", block, re.M).group(1)
            self.assertEqual(allowed.replace("\\\\", "\\"), pattern, name)


class Preflight(unittest.TestCase):
    def test_names_what_is_missing_with_its_fix(self):
        wanted = ".".join(map(str, deploy.workspace_rust_version()))
        self.assertEqual(deploy.tool_problems(f"rustc {wanted}.0 (abc 2026-01-01)", True), [])
        old = deploy.tool_problems("rustc 1.60.0 (7737e0b5c 2022-04-04)", True)
        self.assertEqual(len(old), 1)
        self.assertIn("rustup update", old[0])
        nothing = deploy.tool_problems("", False)
        self.assertEqual(len(nothing), 2, nothing)
        self.assertIn("rustup.rs", nothing[0])
        self.assertIn("python3-venv", nothing[1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
