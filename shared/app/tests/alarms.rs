//! The stack's alarms reach the `ops` Slack destination through the redrive, which the
//! alarms topic invokes beside the schedule.

mod common;

use common::deals::Deals;
use crm_app::redrive::Invocation;
use crm_app::redrive::Published;
use serde_json::{Value, json};

fn alarm_event() -> Value {
    serde_json::from_str(&common::fixture("sns-cloudwatch-alarm.json")).unwrap()
}

/// The alarms an SNS delivery carries; fails the test if it reads as the schedule.
fn alarms_in(event: &Value) -> Vec<Published> {
    match Invocation::parse(event) {
        Invocation::Alarms(alarms) => alarms,
        Invocation::Scheduled => panic!("an SNS delivery read as the schedule: {event}"),
    }
}

#[tokio::test]
async fn an_alarm_is_told_to_ops_with_what_it_means_and_why() {
    let d = Deals::with_webhooks(&["ops"]).await;
    let alarms = alarms_in(&alarm_event());
    assert_eq!(d.h.redrive.tell_alarms(&alarms).await, Ok(1));
    let ops = d.texts("ops");
    assert_eq!(ops.len(), 1, "{ops:#?}");
    let lines: Vec<&str> = ops[0].lines().collect();
    assert_eq!(lines[0], "🚨 crm-WorkerErrorsAlarm-1A2B3C4D5E6F is ALARM");
    assert_eq!(
        lines[1],
        "The Worker function failed (an error or a timeout); its log says why."
    );
    assert!(
        lines[2].contains("greater than the threshold (0.0)"),
        "{}",
        lines[2]
    );
    assert!(lines[2].contains("OK -&gt; ALARM"), "escaped: {}", lines[2]);
}

#[tokio::test]
async fn a_message_published_to_the_topic_by_hand_is_told_as_it_came_without_addresses() {
    let d = Deals::with_webhooks(&["ops"]).await;
    let event = json!({"Records": [{"EventSource": "aws:sns",
        "Sns": {"MessageId": "5a1c1e7e-0000-4000-8000-000000000001",
                "Message": "disk <full>, ask ann@example.com"}}]});
    assert_eq!(d.h.redrive.tell_alarms(&alarms_in(&event)).await, Ok(1));
    let ops = d.texts("ops");
    assert_eq!(ops.len(), 1);
    assert!(ops[0].contains("disk &lt;full&gt;"), "{}", ops[0]);
    assert!(!ops[0].contains("ann@example.com"), "{}", ops[0]);
    assert!(ops[0].contains("@example.com"), "{}", ops[0]);
}

#[tokio::test]
async fn without_an_ops_webhook_the_log_tells_the_alarm_and_the_run_succeeds() {
    let d = Deals::with_webhooks(&["won"]).await;
    assert_eq!(
        d.h.redrive.tell_alarms(&alarms_in(&alarm_event())).await,
        Ok(1)
    );
    assert!(d.slack.to("ops").is_empty());
    assert_eq!(d.slack.to("won").len(), 0);
}

/// Slack refusing the post fails the invocation, so Lambda delivers the alarm again.
#[tokio::test]
async fn an_alarm_slack_refuses_fails_the_invocation_for_lambda_to_retry() {
    let d = Deals::with_webhooks(&["ops"]).await;
    d.slack.revoke("ops");
    let told = d.h.redrive.tell_alarms(&alarms_in(&alarm_event())).await;
    assert!(told.is_err(), "{told:?}");
    d.slack.restore("ops");
    assert_eq!(
        d.h.redrive.tell_alarms(&alarms_in(&alarm_event())).await,
        Ok(1)
    );
    assert_eq!(d.texts("ops").len(), 1);
}

/// SNS delivers at least once, and Lambda retries an invocation with all its records:
/// an alarm already told is not told again.
#[tokio::test]
async fn the_same_alarm_delivered_again_is_told_once() {
    let d = Deals::with_webhooks(&["ops"]).await;
    assert_eq!(
        d.h.redrive.tell_alarms(&alarms_in(&alarm_event())).await,
        Ok(1)
    );
    assert_eq!(
        d.h.redrive.tell_alarms(&alarms_in(&alarm_event())).await,
        Ok(0)
    );
    assert_eq!(d.texts("ops").len(), 1);
    // Another message, even about the same alarm (it fired again), is told.
    let mut again = alarm_event();
    again["Records"][0]["Sns"]["MessageId"] = json!("another-message-id");
    assert_eq!(d.h.redrive.tell_alarms(&alarms_in(&again)).await, Ok(1));
    assert_eq!(d.texts("ops").len(), 2);
}

#[test]
fn the_schedules_payload_is_a_redrive_run() {
    for payload in [json!({}), Value::Null, json!({"source": "aws.scheduler"})] {
        assert_eq!(
            Invocation::parse(&payload),
            Invocation::Scheduled,
            "{payload}"
        );
    }
}
