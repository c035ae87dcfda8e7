//! What `crm serve` leaves in its data folder (`.crm-local/`) for the other commands:
//! the settings of the product it runs (`local.toml`, a config file like any other,
//! with the emulator's token in its `[secrets]`) and its address (`serve.url`). With
//! neither `--config` nor a `CRM_*` variable, `crm import`, `crm replay` and `crm
//! form-snippet` work on the running local product: nothing to write by hand, and the
//! emulator's token nowhere else. The files go when `crm serve` stops.

use std::path::{Path, PathBuf};

use crm_settings::{ENV_PREFIX, Secrets};

const CONFIG: &str = "local.toml";
const URL: &str = "serve.url";

/// Writes the built-in product's settings (by name, as a config file's keys) and its
/// secrets, and the address it serves at.
pub fn leave(
    data: &Path,
    settings: &[(&'static str, String)],
    secrets: &Secrets,
    base: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut table = toml::Table::new();
    for (key, value) in settings {
        table.insert((*key).to_owned(), toml::Value::String(value.clone()));
    }
    let document: serde_json::Value = serde_json::from_str(&secrets.to_json())?;
    table.insert("secrets".into(), toml::Value::try_from(document)?);
    let text = format!(
        "# Written by `crm serve` for the other crm commands while it runs (the built-in\n# Notion emulator and console Slack); removed when it stops.\n{}",
        toml::to_string(&table)?
    );
    std::fs::write(data.join(CONFIG), text)?;
    std::fs::write(data.join(URL), base)?;
    Ok(())
}

/// Removes what [`leave`] wrote.
pub fn forget(data: &Path) {
    for file in [CONFIG, URL] {
        let _ = std::fs::remove_file(data.join(file));
    }
}

/// Whether the shell names a deployment (a `CRM_*` setting): then the local product's
/// files are not used.
fn deployed_settings_given() -> bool {
    std::env::vars().any(|(k, _)| k.starts_with(ENV_PREFIX) && k != "CRM_CONFIG_FILE")
}

/// The local product's config, when no other is given and `crm serve` left one; an
/// error when the `crm serve` that left it no longer answers (killed rather than
/// stopped: its emulator is gone with it).
pub fn config(data: &Path) -> Result<Option<PathBuf>, String> {
    let path = data.join(CONFIG);
    if deployed_settings_given() || !path.is_file() {
        return Ok(None);
    }
    if !url(data).is_some_and(|u| answers(&u)) {
        return Err(format!(
            "{} was left by a crm serve that is no longer running: start it again (make local), or pass --config",
            path.display()
        ));
    }
    eprintln!(
        "using the running crm serve's settings ({})",
        path.display()
    );
    Ok(Some(path))
}

/// Whether something listens at `url`'s address (`http://127.0.0.1:3000`).
fn answers(url: &str) -> bool {
    use std::net::ToSocketAddrs;
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_millis(500)).is_ok()
        })
}

/// The running local product's address, when no deployment is named and `crm serve`
/// left one.
pub fn url(data: &Path) -> Option<String> {
    if deployed_settings_given() {
        return None;
    }
    let url = std::fs::read_to_string(data.join(URL)).ok()?;
    Some(url.trim().to_owned()).filter(|u| !u.is_empty())
}
