use std::path::PathBuf;

use clap::Args;
use crm_domain::intake::own;

/// The variable the signing secret is read from when no file is named.
const SECRET_VARIABLE: &str = "CRM_FORM_SECRET";

#[derive(Args)]
pub struct SignArgs {
    /// A file holding the form signing secret (`form_secrets.own`); without it, the
    /// `CRM_FORM_SECRET` variable. Never an argument: arguments land in shell history
    /// and in every process listing.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// The exact body that will be sent.
    body: String,
    /// Print a complete curl command for this URL instead of the headers.
    #[arg(long)]
    curl: Option<String>,
}

pub fn run(args: &SignArgs) -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret(
        args.secret_file.as_deref(),
        std::env::var(SECRET_VARIABLE).ok(),
    )?;
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .to_string();
    let sig = own::sign(secret.as_bytes(), &ts, args.body.as_bytes());
    let (timestamp, signature) = (own::TIMESTAMP_HEADER, own::SIGNATURE_HEADER);
    match &args.curl {
        Some(url) => println!(
            "curl -sS -X POST {url} -H 'content-type: application/json' -H '{timestamp}: {ts}' -H '{signature}: {sig}' --data '{}'",
            args.body.replace('\'', r"'\''")
        ),
        None => {
            println!("{timestamp}: {ts}");
            println!("{signature}: {sig}");
        }
    }
    Ok(())
}

/// The secret from the file (its trailing newline dropped), else from the variable.
fn secret(
    file: Option<&std::path::Path>,
    variable: Option<String>,
) -> Result<String, Box<dyn std::error::Error>> {
    let secret = match (file, variable) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| format!("could not read the secret file {}: {e}", path.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
        (None, Some(value)) => value,
        (None, None) => {
            return Err(format!(
                "give the form secret with --secret-file PATH or in {SECRET_VARIABLE}"
            )
            .into());
        }
    };
    if secret.is_empty() {
        return Err("the form secret is empty".into());
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sign: SignArgs,
    }

    #[test]
    fn the_signing_secret_is_never_a_command_line_argument() {
        assert!(Cli::try_parse_from(["crm", "--secret", "s3cret", "{}"]).is_err());
        let file = std::env::temp_dir().join(format!("crm-sign-{}", std::process::id()));
        std::fs::write(&file, "from-file\n").unwrap();
        assert_eq!(
            secret(Some(&file), Some("from-env".into())).unwrap(),
            "from-file"
        );
        std::fs::remove_file(&file).unwrap();
        assert_eq!(secret(None, Some("from-env".into())).unwrap(), "from-env");
        let err = secret(None, None).unwrap_err().to_string();
        assert!(err.contains("CRM_FORM_SECRET"), "{err}");
    }
}
