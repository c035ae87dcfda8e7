"""Expands the SAM template offline (no AWS account or network) so cfn-lint can check
what SAM generates: references inside AWS::Serverless::* resources, which linting the
raw template cannot see, are checked this way."""

import json
import sys

import cfnlint.decode
import samtranslator.translator.transform


class NoNetworkPolicyLoader:
    """SAM's managed-policy loader calls IAM; the template uses none of them."""

    def load(self):
        return {}


def main(source: str, target: str) -> None:
    template, errors = cfnlint.decode.decode(source)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        sys.exit(1)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # `sam validate` does the same: the code location is irrelevant here.
            resource["Properties"]["CodeUri"] = "s3://placeholder-bucket/placeholder-key"
    parameters = {
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
    }
    output = samtranslator.translator.transform.transform(
        json.loads(json.dumps(template)), parameters, NoNetworkPolicyLoader()
    )
    with open(target, "w", encoding="utf-8") as f:
        json.dump(output, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
