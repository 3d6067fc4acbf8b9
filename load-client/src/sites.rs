//! Which spawn sites the leaked tasks came from: leak-probe's `GET /_leaks`, read before
//! and after each round.
//!
//! The count says *how many* tasks leaked; the per-site counts of `/_leaks` say *where*:
//! a site whose live tasks grew over the round (and stayed, once settled) is where they
//! were spawned. The verdict names it (`LEAK, 1.00 per request, at
//! leaky-server/src/sum.rs:99:5`), and whether the server's own detector calls it a
//! suspect (its floor kept rising, see leak-probe's `leaks` module).
//!
//! A server without `/_leaks` (the blog's Go server, a plain tokio service) answers 404:
//! the reader then stops asking and the verdicts name no site.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Url;
use serde::Serialize;

use crate::count::Counter;

/// One spawn site's live tasks, as `/_leaks` reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteNow {
    /// Live tasks spawned there.
    pub alive: u64,
    /// Whether the server's detector calls the site a suspect.
    pub suspect: bool,
    /// Where most of its tasks wait, innermost first.
    pub waiting_at: Vec<String>,
}

/// Every site's live tasks at one moment, by `file:line:column`.
pub type SiteCounts = BTreeMap<String, SiteNow>;

/// A site whose live tasks grew between two readings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakSite {
    /// `file:line:column` of the spawn.
    pub site: String,
    /// How many more live tasks it has than before.
    pub grew: u64,
    /// Its live tasks now.
    pub alive: u64,
    /// Whether the server's detector calls it a suspect.
    pub suspect: bool,
    /// Where most of its tasks wait, innermost first.
    pub waiting_at: Vec<String>,
}

/// Reads `/_leaks`; gives up for good on a server that does not have it.
///
/// It reads through the [`Counter`]'s connection: a connection of its own would be one
/// more task on the server, counted as leaked by the very run that blames the sites.
#[derive(Debug)]
pub struct SiteReader {
    url: Url,
    counter: Arc<Counter>,
    missing: AtomicBool,
}

impl SiteReader {
    /// A reader of `url` (a leak-probe `/_leaks`) through `counter`'s connection.
    pub fn new(url: Url, counter: Arc<Counter>) -> SiteReader {
        SiteReader {
            url,
            counter,
            missing: AtomicBool::new(false),
        }
    }

    /// The sites now; `None` if the server has no `/_leaks` (or did not answer one).
    pub async fn read(&self) -> Option<SiteCounts> {
        if self.missing.load(Ordering::Relaxed) {
            return None;
        }
        let (status, text) = self.counter.get_text(&self.url).await.ok()?;
        if status == reqwest::StatusCode::NOT_FOUND {
            // No /_leaks here (the Go server, a plain service): do not ask again.
            self.missing.store(true, Ordering::Relaxed);
            return None;
        }
        // A 429 or 503 is for this reading only.
        if !status.is_success() {
            return None;
        }
        let parsed = parse(&text);
        if parsed.is_none() {
            // Something else lives there: do not ask again.
            self.missing.store(true, Ordering::Relaxed);
        }
        parsed
    }
}

/// The sites of a `/_leaks` JSON answer; `None` if `json` is not one.
pub fn parse(json: &str) -> Option<SiteCounts> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut out = SiteCounts::new();
    for site in value.get("sites")?.as_array()? {
        let name = site.get("site")?.as_str()?.to_owned();
        let waiting_at = site
            .get("waiting_at")
            .and_then(|w| w.as_array())
            .map(|w| {
                w.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let now = SiteNow {
            alive: site.get("alive")?.as_u64()?,
            suspect: site.get("suspect")?.as_bool()?,
            waiting_at,
        };
        // A site listed twice (the same line compiled into two places) adds up.
        let entry = out.entry(name).or_insert(SiteNow {
            alive: 0,
            suspect: false,
            waiting_at: Vec::new(),
        });
        entry.alive += now.alive;
        entry.suspect |= now.suspect;
        if entry.waiting_at.is_empty() {
            entry.waiting_at = now.waiting_at;
        }
    }
    Some(out)
}

/// The sites whose live tasks grew from `before` to `after`, most growth first.
///
/// A task the round left behind is on one of these; tasks that merely moved (ended at one
/// site while others started elsewhere) show as growth only where they grew.
pub fn grown(before: &SiteCounts, after: &SiteCounts) -> Vec<LeakSite> {
    let mut out: Vec<LeakSite> = after
        .iter()
        .filter_map(|(site, now)| {
            let was = before.get(site).map_or(0, |b| b.alive);
            (now.alive > was).then(|| LeakSite {
                site: site.clone(),
                grew: now.alive - was,
                alive: now.alive,
                suspect: now.suspect,
                waiting_at: now.waiting_at.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| b.grew.cmp(&a.grew).then_with(|| a.site.cmp(&b.site)));
    out
}

/// The sites that account for a leak of `leaked` tasks: the biggest growers, until they
/// add up to it (so the connection a reader holds open is not blamed for a leak).
pub fn blame(grown: &[LeakSite], leaked: i64) -> Vec<LeakSite> {
    let mut out = Vec::new();
    let mut covered: i64 = 0;
    for site in grown {
        if covered >= leaked {
            break;
        }
        covered += i64::try_from(site.grew).unwrap_or(i64::MAX);
        out.push(site.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(json: &str) -> SiteCounts {
        parse(json).expect("a /_leaks answer")
    }

    #[test]
    fn the_sites_that_grew_are_blamed_biggest_first() {
        let before = counts(
            r#"{"sites":[{"site":"axum/serve.rs:276:9","alive":1,"suspect":false,"waiting_at":[]}]}"#,
        );
        let after = counts(
            r#"{"sites":[
                {"site":"leaky-server/src/sum.rs:99:5","alive":100,"suspect":true,"waiting_at":["leaky-server/src/sum.rs:81:32"]},
                {"site":"axum/serve.rs:276:9","alive":2,"suspect":false,"waiting_at":[]}
            ]}"#,
        );
        let grown = grown(&before, &after);
        assert_eq!(grown.len(), 2);
        assert_eq!(grown[0].site, "leaky-server/src/sum.rs:99:5");
        assert_eq!((grown[0].grew, grown[0].suspect), (100, true));
        assert_eq!(grown[0].waiting_at, ["leaky-server/src/sum.rs:81:32"]);
        // A leak of 100 is the sum site's; the extra connection is not blamed.
        assert_eq!(blame(&grown, 100).len(), 1);
        assert_eq!(blame(&grown, 101).len(), 2);
        assert!(blame(&grown, 0).is_empty());
        assert_eq!(parse("not json"), None);
        let twice = counts(
            r#"{"sites":[{"site":"a.rs:1:1","alive":3,"suspect":true,"waiting_at":["a.rs:2:1"]},
                         {"site":"a.rs:1:1","alive":0,"suspect":false,"waiting_at":[]}]}"#,
        );
        assert_eq!(twice["a.rs:1:1"].alive, 3);
        assert!(twice["a.rs:1:1"].suspect);
        assert_eq!(parse(r#"{"groups":[]}"#), None);
    }
}
