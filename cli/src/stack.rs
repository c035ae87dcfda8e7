//! `--stack NAME`: a deployed stack's own settings, read from AWS with this shell's
//! credentials, instead of `CRM_*` variables assembled by hand.
//!
//! The stack's outputs name its secret and its worker function (`template.yaml`,
//! Outputs); the worker's configuration holds every `CRM_*` setting the functions run
//! with (the template gives them all the same, from its Globals). Variables set in
//! this shell still win, so one setting can be changed for one run.

use std::collections::BTreeMap;
use std::error::Error;

use clap::Args;
use crm_settings::Settings;

#[derive(Args, Debug, Clone, Default)]
pub struct StackArg {
    /// A deployed stack (its CloudFormation name, in AWS_REGION or the profile's
    /// region): its settings and secret are read from it instead of `CRM_*` variables.
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
}

/// What a deployed stack says about itself.
#[derive(Debug)]
pub struct Deployed {
    /// Its outputs, by key.
    pub outputs: BTreeMap<String, String>,
    /// The `CRM_*` variables its worker runs with.
    pub settings: Vec<(String, String)>,
}

impl Deployed {
    fn output(&self, stack: &str, key: &str) -> Result<&str, String> {
        self.outputs.get(key).map(String::as_str).ok_or_else(|| {
            format!("stack {stack} has no {key} output: deploy this version first (make deploy)")
        })
    }
}

/// Reads `stack`'s outputs and its worker's settings.
pub async fn read(stack: &str) -> Result<Deployed, Box<dyn Error>> {
    let aws = crm_settings::sdk_config().await;
    let region = aws.region().map_or("(no region)".into(), |r| r.to_string());
    let described = aws_sdk_cloudformation::Client::new(&aws)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read stack {stack} in {region} (is it deployed there? set AWS_REGION or AWS_PROFILE): {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(e)
            )
        })?;
    let outputs: BTreeMap<String, String> = described
        .stacks()
        .first()
        .ok_or_else(|| format!("no stack {stack} in {region}"))?
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let mut deployed = Deployed {
        outputs,
        settings: Vec::new(),
    };
    let function = deployed.output(stack, "WorkerFunction")?.to_owned();
    let config = aws_sdk_lambda::Client::new(&aws)
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read the settings of {function}: {}",
                aws_sdk_lambda::error::DisplayErrorContext(e)
            )
        })?;
    deployed.settings = config
        .environment()
        .and_then(|e| e.variables())
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(crm_settings::ENV_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(deployed)
}

impl StackArg {
    /// The settings to run with: the stack's under this shell's `CRM_*` variables, or
    /// this shell's alone without `--stack`.
    pub async fn settings(&self) -> Result<Settings, Box<dyn Error>> {
        let Some(stack) = &self.stack else {
            return Ok(Settings::from_env()?);
        };
        let deployed = read(stack).await?;
        let shell = std::env::vars().filter(|(k, _)| k != "CRM_CONFIG_FILE");
        Ok(Settings::load(
            None,
            deployed.settings.into_iter().chain(shell),
        )?)
    }

    /// The secret's ARN: the stack's `SecretArn` output, else `CRM_SECRET_ARN`.
    pub async fn secret_arn(&self) -> Result<String, Box<dyn Error>> {
        match &self.stack {
            Some(stack) => Ok(read(stack).await?.output(stack, "SecretArn")?.to_owned()),
            None => std::env::var("CRM_SECRET_ARN").map_err(|_| {
                "name the secret: --stack NAME (a deployed stack), --arn ARN, or CRM_SECRET_ARN"
                    .into()
            }),
        }
    }
}
