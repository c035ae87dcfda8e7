//! `crm serve` started as a user starts it (`make local`): the real binary, its banner
//! read from stdout, every later line (the Slack console) available to wait for.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crm_testkit::Running;
use serde_json::Value;

pub struct LocalProduct {
    /// The banner: every URL, the form secret, the seeded workspace.
    pub info: Value,
    lines: mpsc::Receiver<String>,
    /// Its data folder (`--data`).
    pub data: std::path::PathBuf,
    _server: Running,
}

impl LocalProduct {
    /// `crm serve` on free ports, with no config: the emulator, console Slack, the demo site.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, "0", &[])
    }

    /// The same with the demo site on `demo_port` and `CRM_` variables over the
    /// built-in config, as a user would override a setting.
    pub fn start_with(name: &str, demo_port: &str, env: &[(&str, String)]) -> Self {
        Self::start_args(name, &["--demo-port", demo_port], env)
    }

    /// `crm serve --port 0` with more arguments (`--config FILE`).
    pub fn start_args(name: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let data = std::env::temp_dir().join(format!("crm-{name}-{}", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_crm"))
            .args(["serve", "--port", "0"])
            .args(args)
            .arg("--data")
            .arg(&data)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("CRM_CONFIG_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start crm serve");
        let stdout = child.stdout.take().unwrap();
        let server = Running(child);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut product = Self {
            info: Value::Null,
            lines,
            data,
            _server: server,
        };
        let banner = product.wait_for_line("startup line", |l| l.starts_with('{'));
        product.info = serde_json::from_str(&banner).unwrap();
        product
    }

    /// Waits until Notion's webhook deliveries are all made and the product's inbox
    /// holds nothing open: everything told has been handled.
    pub async fn settled(&self, what: &str) {
        let idle = format!("{}/__admin/webhooks/idle", self.url("notion"));
        let inbox = self.url("inbox");
        crm_testkit::eventually(what, Duration::from_secs(20), || async {
            let idle: Value = get_json(&idle).await?;
            let open: Vec<Value> = get_json(&inbox).await?;
            (idle["idle"] == true && open.is_empty()).then_some(())
        })
        .await;
    }

    /// A string of the banner.
    pub fn url(&self, key: &str) -> String {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in {}", self.info))
            .to_owned()
    }

    /// The next line of output that `pred` accepts (within 30 s).
    pub fn wait_for_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no {what} on the server's output");
    }

    /// The pages of one of the seeded data sources (`contacts`, `deals`, `activities`).
    pub async fn pages(&self, source: &str) -> Vec<Value> {
        let notion = self.url("notion");
        let id = self.info["workspace"][format!("{source}_data_source_id")]
            .as_str()
            .unwrap()
            .to_owned();
        crm_http::client()
            .get(format!("{notion}/__admin/data_sources/{id}/pages"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The pages of `source` that were not there at start (`make local` seeds demo data:
    /// the ones a test made are told apart by their creator, the integration's bot).
    pub async fn new_pages(&self, source: &str) -> Vec<Value> {
        let bot = self.info["workspace"]["bot_user_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.pages(source)
            .await
            .into_iter()
            .filter(|p| p["created_by"]["id"] == bot.as_str())
            .collect()
    }

    /// Waits until the contacts include `email`; returns them all.
    pub async fn wait_for_contact(&self, email: &str) -> Vec<Value> {
        let what = format!("the contact {email} written");
        crm_testkit::eventually(&what, Duration::from_secs(20), || async {
            let contacts = self.new_pages("contacts").await;
            contacts
                .iter()
                .any(|c| c["properties"]["Email"]["email"] == email)
                .then_some(contacts)
        })
        .await
    }
}

/// GETs `url` as JSON; `None` while it cannot be read.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Option<T> {
    crm_http::client()
        .get(url)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Posts `lead` to `intake` signed with `secret` as a site's server signs it (the own
/// scheme, timestamped); returns the answer's status.
pub async fn send_signed(intake: &str, secret: &str, lead: &Value) -> u16 {
    let body = lead.to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut request = crm_http::client().post(intake);
    for (name, value) in crm_testkit::request::own_signed(secret, now as i64, body.as_bytes()) {
        request = request.header(name, value);
    }
    request.body(body).send().await.unwrap().status().as_u16()
}

/// A config file `crm.toml` in `dir` for `crm` to work on the workspace `ws` of the
/// Notion at `notion` (an emulator standing in for a real one), with more `settings`
/// lines and `secrets` lines (each ending in a newline).
pub fn write_config(
    dir: &std::path::Path,
    ws: &crm_notion_emulator::SeededWorkspace,
    notion: &str,
    settings: &str,
    secrets: &str,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("crm.toml");
    std::fs::write(
        &config,
        format!(
            "table_name = \"local\"\ncontacts_data_source_id = \"{}\"\ndeals_data_source_id = \"{}\"\n\
             activities_data_source_id = \"{}\"\nnotion_base_url = \"{notion}\"\n{settings}\
             [secrets]\nnotion_token = \"{}\"\n{secrets}",
            ws.contacts_data_source_id,
            ws.deals_data_source_id,
            ws.activities_data_source_id,
            crm_notion_emulator::DEFAULT_TOKEN,
        ),
    )
    .unwrap();
    config
}

impl Drop for LocalProduct {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
