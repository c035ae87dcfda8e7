use clap::Args;
use crm_cli::limits::limits;
use crm_cli::workspace::{Created, create, examine};
use crm_notion::{NotionClient, NotionConfig};
use secrecy::SecretString;

#[derive(Args)]
pub struct SetupArgs {
    /// Create Contacts, Deals and Activities under this page (share it with the
    /// integration first: ••• → Connections).
    #[arg(long, conflicts_with = "check")]
    parent_page: Option<String>,
    /// Check existing data sources instead (give all three ids).
    #[arg(long, requires_all = ["contacts", "deals", "activities"])]
    check: bool,
    #[arg(long)]
    contacts: Option<String>,
    #[arg(long)]
    deals: Option<String>,
    #[arg(long)]
    activities: Option<String>,
    /// The integration's token (prefer the NOTION_TOKEN environment variable).
    #[arg(long, env = "NOTION_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long, default_value = "https://api.notion.com")]
    notion_url: String,
}

pub async fn run(args: SetupArgs) -> Result<(), Box<dyn std::error::Error>> {
    let notion = NotionClient::new(NotionConfig::new(
        &args.notion_url,
        SecretString::from(args.token),
    ))?;
    let names = crm_settings::PropertyNames::defaults();
    if let Some(parent) = &args.parent_page {
        let created = create(&notion, parent, &names).await?;
        println!("Created. Put these in your configuration (deploy parameters or CRM_* settings):");
        println!(
            "  ContactsDataSourceId / CRM_CONTACTS_DATA_SOURCE_ID = {}",
            created.contacts
        );
        println!(
            "  DealsDataSourceId / CRM_DEALS_DATA_SOURCE_ID = {}",
            created.deals
        );
        println!(
            "  ActivitiesDataSourceId / CRM_ACTIVITIES_DATA_SOURCE_ID = {}",
            created.activities
        );
        return Ok(());
    }
    if args.check {
        let ids = Created {
            contacts: args.contacts.unwrap_or_default(),
            deals: args.deals.unwrap_or_default(),
            activities: args.activities.unwrap_or_default(),
        };
        let (mismatches, notes) = examine(&notion, &ids, &names, &["new lead".to_owned()]).await?;
        for line in limits(&notion, &ids).await?.lines() {
            println!("{line}");
        }
        for note in &notes {
            println!("{note}");
        }
        if mismatches.is_empty() {
            println!("The three data sources fit the CRM schema.");
            return Ok(());
        }
        for m in &mismatches {
            println!("{m}");
        }
        return Err(format!("{} mismatch(es)", mismatches.len()).into());
    }
    Err("give --parent-page to create the data sources, or --check with their ids".into())
}
