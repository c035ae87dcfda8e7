use clap::Args;
use crm_domain::intake::own;

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
    let sig = own::sign(args.secret.as_bytes(), &ts, args.body.as_bytes());
    match &args.curl {
        Some(url) => println!(
            "curl -sS -X POST {url} -H 'content-type: application/json' -H 'x-form-timestamp: {ts}' -H 'x-form-signature: {sig}' --data '{}'",
            args.body.replace('\'', r"'\''")
        ),
        None => {
            println!("X-Form-Timestamp: {ts}");
            println!("X-Form-Signature: {sig}");
        }
    }
    Ok(())
}
