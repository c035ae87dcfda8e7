//! The deployed configuration and the code agree: every variable `template.yaml` sets is
//! a setting, and every required setting is set (in AWS, `CRM_SECRET_ARN` too).

use std::collections::BTreeSet;

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")).unwrap()
}

fn variables_set(template: &str) -> BTreeSet<String> {
    template
        .lines()
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.trim()))
        .filter(|k| k.starts_with("CRM_") && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_variable_the_template_sets_is_a_known_setting() {
    let known: BTreeSet<String> = crm_settings::setting_names().into_iter().collect();
    let set = variables_set(&template());
    assert!(set.len() >= 10, "found {set:?}");
    let unknown: Vec<&String> = set.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "template.yaml sets unknown settings: {unknown:?}"
    );
}

#[test]
fn the_template_sets_every_required_setting_and_the_secret() {
    let set = variables_set(&template());
    for required in crm_settings::required_setting_names()
        .into_iter()
        .chain(["CRM_SECRET_ARN".to_owned()])
    {
        assert!(
            set.contains(&required),
            "template.yaml does not set {required}"
        );
    }
}
