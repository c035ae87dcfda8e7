//! One solved captcha is one lead.
//!
//! A captcha token is single-use at its provider, but "use" is the provider's idea: a
//! visitor sends the same form again with the same token (a double click, a retry after
//! a 503) and must be kept once, not taken for a bot; anything else riding on a spent
//! token — another address under the same submission id, or no id — must buy nothing.
//! So a token is claimed (the claim protocol, `crm_store::claim`) under its hash, and
//! the claim's result records what it vouched for: the submission's fingerprint (its
//! key and content, `captcha::fingerprint`) and the provider's verdict.
//!
//! * The first post with a token owns the claim, asks the provider (Turnstile with an
//!   `idempotency_key` of the fingerprint, so its own answer is bound to the submission
//!   too) and records the verdict.
//! * A post with a recorded token: the same fingerprint gets the recorded verdict again
//!   (no second siteverify, which hCaptcha would refuse as spent); any other is spam.
//! * A post while another holds the claim (the twin of a double click in flight) is
//!   spam: the twin keeps the lead, and the answers look alike.
//!
//! When the store cannot be reached the provider alone decides, as before: its tokens
//! are single-use, so a lost record never buys a second lead. The resend it asks for
//! finds no record, and a provider that calls the token spent is then taken as having
//! verified the lost post (`Verdict::first_sight`): kept once, marked unverified. So it does for
//! the test site keys' tokens, the same for every post (`captcha::TEST_TOKENS`).

use std::time::Duration;

use crm_store::{Claimed, Claims, StoreError};

use super::captcha::Verdict;
use crate::inbox::keys;

/// How long a token's record is kept: longer than any token lives (Turnstile's and
/// hCaptcha's expire within minutes) and than a visitor resends.
const RETENTION: Duration = Duration::from_secs(86_400);

/// What a post with a token may do.
pub enum Gate<'a, S> {
    /// Ask the provider, then [`record`] its verdict on this claim.
    Ask(crm_store::Claim<'a, S>),
    /// Decided before: this submission sent again.
    Known(Verdict),
    /// The token vouched for another submission, or is being checked for one now.
    Spent,
    /// The store did not answer: ask the provider, record nothing.
    Unrecorded,
}

/// Where a post with `token`, vouching for the submission `fingerprint`, stands.
pub async fn gate<'a, S: Claims>(
    store: &'a S,
    token: &str,
    fingerprint: &str,
    lease: Duration,
) -> Gate<'a, S> {
    if super::captcha::TEST_TOKENS.contains(&token) {
        // A test site key's token, the same for every post: the provider's test secret
        // decides (a production secret refuses it).
        return Gate::Unrecorded;
    }
    match store
        .claim(&keys::captcha_token(token), lease, RETENTION)
        .await
    {
        Ok(Claimed::Owned(claim)) => Gate::Ask(claim),
        Ok(Claimed::Done { result }) => match result.as_deref().and_then(decode) {
            Some((vouched, verdict)) if vouched == fingerprint => Gate::Known(verdict),
            _ => Gate::Spent,
        },
        Ok(Claimed::Busy) => Gate::Spent,
        Err(e) => {
            log_store(&e);
            Gate::Unrecorded
        }
    }
}

/// Records what the provider said of the token for the submission `fingerprint`.
pub async fn record<S: Claims>(
    claim: crm_store::Claim<'_, S>,
    fingerprint: &str,
    verdict: &Verdict,
) {
    claim.complete(Some(&encode(fingerprint, verdict))).await;
}

fn log_store(e: &StoreError) {
    tracing::warn!(error = %crate::telemetry::cause_chain(e), "could not claim the captcha token; the provider alone decides");
}

/// `<fingerprint> person`, `… unverified <reason>`, `… misconfigured <reason>`, `… refused <codes>`.
fn encode(fingerprint: &str, verdict: &Verdict) -> String {
    match verdict {
        Verdict::Person => format!("{fingerprint} person"),
        Verdict::Unverified(reason) => format!("{fingerprint} unverified {reason}"),
        Verdict::Misconfigured(reason) => format!("{fingerprint} misconfigured {reason}"),
        Verdict::NotAPerson(codes) => format!("{fingerprint} refused {}", codes.join(",")),
    }
}

fn decode(record: &str) -> Option<(&str, Verdict)> {
    let (fingerprint, rest) = record.split_once(' ')?;
    let (kind, detail) = rest.split_once(' ').unwrap_or((rest, ""));
    let verdict = match kind {
        "person" => Verdict::Person,
        "unverified" => Verdict::Unverified(detail.to_owned()),
        "misconfigured" => Verdict::Misconfigured(detail.to_owned()),
        "refused" => Verdict::NotAPerson(
            detail
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        _ => return None,
    };
    Some((fingerprint, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_the_verdict_it_recorded() {
        for verdict in [
            Verdict::Person,
            Verdict::Unverified("turnstile answered HTTP 502".into()),
            Verdict::Misconfigured("hcaptcha refused our request (invalid-remoteip)".into()),
            Verdict::NotAPerson(vec!["timeout-or-duplicate".into()]),
            Verdict::NotAPerson(vec![]),
        ] {
            let record = encode("ab12", &verdict);
            assert_eq!(decode(&record), Some(("ab12", verdict)));
        }
        assert_eq!(decode("ab12 something-else"), None);
        assert_eq!(decode(""), None);
    }
}
