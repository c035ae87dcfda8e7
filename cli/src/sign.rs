use clap::Args;
use crm_domain::signature::{hmac_sha256, to_hex};

#[derive(Args)]
pub struct SignArgs {
    /// The form signing secret (`form_secrets.own`).
    #[arg(long)]
    secret: String,
    /// The exact body that will be sent.
    body: String,
    /// Print a complete curl command for this URL instead of the headers.
    #[arg(long)]
    curl: Option<String>,
}

pub fn run(args: &SignArgs) -> Result<(), Box<dyn std::error::Error>> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .to_string();
    let sig = to_hex(&hmac_sha256(
        args.secret.as_bytes(),
        &[ts.as_bytes(), b".", args.body.as_bytes()],
    ));
    match &args.curl {
        Some(url) => println!(
            "curl -sS -X POST {url} -H 'content-type: application/json' -H 'x-form-timestamp: {ts}' -H 'x-form-signature: sha256={sig}' --data '{}'",
            args.body.replace('\'', r"'\''")
        ),
        None => {
            println!("X-Form-Timestamp: {ts}");
            println!("X-Form-Signature: sha256={sig}");
        }
    }
    Ok(())
}
