//! Who may use a server that runs on this machine for its operator alone (`make local`'s
//! page, the Notion emulator): a request addressed to 127.0.0.1 or localhost (any port:
//! an SSH tunnel may forward another), from no other origin. Another site open in the
//! same browser can then neither read it through a DNS name pointed at 127.0.0.1 (DNS
//! rebinding: the `Host` is that name) nor send it requests of its own (its `Origin`).

/// Whether a request with this `Host` and `Origin` comes from the operator.
pub fn addressed_locally(host: Option<&str>, origin: Option<&str>) -> bool {
    let host = host.unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let loopback = matches!(name, "127.0.0.1" | "localhost");
    let same_origin = origin.is_none_or(|o| o == format!("http://{host}"));
    loopback && same_origin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_and_only_its_own_origin() {
        let asked = |host, origin| addressed_locally(Some(host), origin);
        assert!(asked("127.0.0.1:3000", None));
        assert!(asked("localhost:3000", Some("http://localhost:3000")));
        assert!(asked("localhost:8080", None), "through a tunnel");
        assert!(!asked("crm.attacker.test:3000", None), "a rebound DNS name");
        assert!(!asked("127.0.0.1.nip.io:3000", None));
        assert!(!asked("127.0.0.1:3000", Some("http://evil.test")));
        assert!(
            !asked("127.0.0.1:3000", Some("http://127.0.0.1:3001")),
            "another local origin is another site"
        );
        assert!(!asked("127.0.0.1:3000", Some("null")));
        assert!(!addressed_locally(None, None), "no Host");
    }
}
