//! Reading a server's live task count: `GET /_count`, a bare integer.
//!
//! All reads go through one keep-alive connection, one at a time. That matters: each open
//! connection is a task on the server, so a reader that opened connections of its own
//! would change the very number it reads. With one connection, kept open for the whole
//! run, it adds exactly one task to every reading, before and after alike.

use std::time::Duration;

use reqwest::Url;
use tokio::sync::Mutex;

use crate::Error;

/// How long one `/_count` read may take.
pub const COUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads `/_count` (or any URL answering a bare integer).
#[derive(Debug)]
pub struct Counter {
    url: Url,
    client: reqwest::Client,
    /// Serializes reads, so they share one connection.
    one_at_a_time: Mutex<()>,
}

impl Counter {
    /// A reader for `url`.
    pub fn new(url: Url) -> Counter {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(COUNT_TIMEOUT)
            .no_proxy()
            .build()
            .expect("a plain HTTP client always builds");
        Counter {
            url,
            client,
            one_at_a_time: Mutex::new(()),
        }
    }

    /// The URL read.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// GETs `url` (another debug route of the same server, e.g. `/_leaks`) over the same
    /// connection as the count, so that reading it does not open one more connection (one
    /// more task) on the server: `(status, body)`.
    pub async fn get_text(&self, url: &Url) -> Result<(reqwest::StatusCode, String), Error> {
        let _turn = self.one_at_a_time.lock().await;
        let unreachable =
            |e: reqwest::Error| Error::Unreachable(format!("cannot read {url}: {}", describe(&e)));
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        Ok((status, response.text().await.map_err(unreachable)?))
    }

    /// The current count. Fails with [`Error::Unreachable`] if the server does not answer,
    /// and [`Error::BadCount`] if it answers something that is not a count.
    pub async fn read(&self) -> Result<usize, Error> {
        let (status, body) = self.get_text(&self.url).await?;
        if !status.is_success() {
            return Err(Error::BadCount(format!(
                "{} answered {status}, not a task count (is this a leak-probe or Go /_count endpoint?)",
                self.url
            )));
        }
        parse_count(&body).ok_or_else(|| {
            let shown: String = body.chars().take(60).collect();
            Error::BadCount(format!(
                "{} did not answer a task count (a bare integer) but {shown:?}",
                self.url
            ))
        })
    }
}

/// A bare non-negative integer, allowing surrounding whitespace (Go's handler writes none,
/// `curl`-friendly servers add a newline).
pub fn parse_count(body: &str) -> Option<usize> {
    let body = body.trim();
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    body.parse().ok()
}

/// A short reason for a failed request: connection refused, timed out, ...
pub fn describe(e: &reqwest::Error) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(source) = root.source() {
        root = source;
    }
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("connection failed ({root})")
    } else {
        root.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn counts_are_bare_integers() {
        assert_eq!(parse_count("3"), Some(3));
        assert_eq!(parse_count("54\n"), Some(54));
        assert_eq!(parse_count(""), None);
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count("3 tasks"), None);
        assert_eq!(parse_count("<html>"), None);
        assert_eq!(parse_count("99999999999999999999999"), None);
    }
}
