//! The stack's alarms reach the `ops` Slack destination through the redrive, which the
//! alarms topic invokes beside the schedule.

mod common;

use common::deals::Deals;
use crm_app::redrive::Invocation;
use serde_json::{Value, json};

fn alarm_event() -> Value {
    serde_json::from_str(&common::fixture("sns-cloudwatch-alarm.json")).unwrap()
}

#[tokio::test]
async fn an_alarm_is_told_to_ops_with_what_it_means_and_why() {
    let d = Deals::with_webhooks(&["ops"]).await;
    let Invocation::Alarms(alarms) = Invocation::parse(&alarm_event()) else {
        panic!("an SNS delivery read as the schedule");
    };
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
async fn a_message_published_to_the_topic_by_hand_is_told_as_it_came() {
    let d = Deals::with_webhooks(&["ops"]).await;
    let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "disk <full>"}}]});
    let Invocation::Alarms(alarms) = Invocation::parse(&event) else {
        panic!("an SNS delivery read as the schedule");
    };
    assert_eq!(d.h.redrive.tell_alarms(&alarms).await, Ok(1));
    let ops = d.texts("ops");
    assert_eq!(ops.len(), 1);
    assert!(ops[0].contains("disk &lt;full&gt;"), "{}", ops[0]);
}

#[tokio::test]
async fn without_an_ops_webhook_the_log_tells_the_alarm_and_the_run_succeeds() {
    let d = Deals::with_webhooks(&["won"]).await;
    let Invocation::Alarms(alarms) = Invocation::parse(&alarm_event()) else {
        panic!("an SNS delivery read as the schedule");
    };
    assert_eq!(d.h.redrive.tell_alarms(&alarms).await, Ok(1));
    assert!(d.slack.to("ops").is_empty());
    assert_eq!(d.slack.to("won").len(), 0);
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
