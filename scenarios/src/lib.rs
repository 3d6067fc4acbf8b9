//! # scenarios: every leak, listed once, and the code both servers share
//!
//! [`SCENARIOS`] is the one list of leaks this workspace teaches. The routers of
//! leaky-server and fixed-server, the demo, the tests, the soak, the benches and the
//! book's `generate.sh` (through `load-client scenarios`) all iterate over it, so adding a
//! leak means adding a row here and the code that leaks and fixes it: see
//! `ARCHITECTURE.md`, "Adding a leak".
//!
//! Everything else in this crate is what leaky-server and fixed-server have in common and
//! that is not part of a leak or of its fix: parsing the numbers ([`nums`]), the error
//! answers ([`Reject`]), the limits every request runs under ([`harden`]), the silent
//! upstream ([`upstream`]), and the flags and start-up of both binaries ([`cli`]). Keeping
//! it here is what lets `diff -r leaky-server/src fixed-server/src` show only leaks and
//! fixes.

pub mod cli;
pub mod harden;
pub mod nums;
pub mod saves;
pub mod upstream;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub use nums::{BadRequest, Nums};

/// A leak's tag: `LEAK(L3)` in leaky-server marks the leak, `FIX(L3)` in fixed-server its
/// fix, at the same spot of the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tag {
    /// A send nobody receives.
    L1,
    /// A `select!` loop with no exit.
    L2,
    /// A receive loop whose sender lives on.
    L3,
    /// A sleep loop whose handle was dropped.
    L4,
    /// An upstream call with no timeout.
    L5,
    /// Work that outlives a client who gave up.
    L6,
    /// Connections that never finish a request.
    L7,
    /// Work dropped at shutdown.
    L8,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How a scenario is driven to show its leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Requests to the scenario's route with `query`; each client gives up after
    /// `give_up` (a disconnect) if set, else waits for its answer.
    Requests {
        /// Appended to the route: `""` or `"?ms=300"`.
        query: &'static str,
        /// When the client gives up, if it does.
        give_up: Option<Duration>,
    },
    /// Connections that send half a request head and then nothing (a slowloris).
    SlowConnections,
    /// Requests to the route with `query`, then the server is told to stop at once.
    Shutdown {
        /// Appended to the route.
        query: &'static str,
    },
}

/// What leaky-server leaks, per what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaks {
    /// One task per request (for a route whose clients give up: per request given up).
    PerRequest,
    /// One task (and one open file descriptor) per slow connection.
    PerSlowConnection,
    /// One accepted piece of work per request still in progress at shutdown, lost.
    LostAtShutdown,
}

/// One leak: what leaks, how fixed-server ends it, and how to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// `L1`…`L8`.
    pub tag: Tag,
    /// The leak, in a few words.
    pub title: &'static str,
    /// The fix, in a few words.
    pub fix: &'static str,
    /// The route both servers serve for it (`None`: not a route, e.g. L7's connections).
    pub route: Option<&'static str>,
    /// The module of each server that holds the leak and the fix.
    pub module: &'static str,
    /// How to drive it.
    pub load: Load,
    /// What leaky-server loses to it.
    pub leaks: Leaks,
}

// ANCHOR: scenarios
/// Every leak this workspace teaches, in the book's order.
pub const SCENARIOS: [Scenario; 8] = [
    Scenario {
        tag: Tag::L1,
        title: "a send nobody receives",
        fix: "the task owns only its sender; the handler owns both receivers and reads both",
        route: Some("/sum"),
        module: "sum",
        load: Load::Requests {
            query: "",
            give_up: None,
        },
        leaks: Leaks::PerRequest,
    },
    Scenario {
        tag: Tag::L2,
        title: "a select! loop with no exit",
        fix: "the loop also waits on the request's cancellation token",
        route: Some("/select"),
        module: "select",
        load: Load::Requests {
            query: "",
            give_up: None,
        },
        leaks: Leaks::PerRequest,
    },
    Scenario {
        tag: Tag::L3,
        title: "a receive loop whose sender lives on",
        fix: "the only sender is scoped to the handler",
        route: Some("/range"),
        module: "range",
        load: Load::Requests {
            query: "",
            give_up: None,
        },
        leaks: Leaks::PerRequest,
    },
    Scenario {
        tag: Tag::L4,
        title: "a sleep loop whose handle was dropped",
        fix: "aborted when the request ends (AbortOnDropHandle)",
        route: Some("/heartbeat"),
        module: "heartbeat",
        load: Load::Requests {
            query: "",
            give_up: None,
        },
        leaks: Leaks::PerRequest,
    },
    Scenario {
        tag: Tag::L5,
        title: "an upstream call with no timeout",
        fix: "the call itself is under a timeout",
        route: Some("/upstream"),
        module: "upstream",
        load: Load::Requests {
            query: "",
            give_up: None,
        },
        leaks: Leaks::PerRequest,
    },
    Scenario {
        tag: Tag::L6,
        title: "work that outlives a client who gave up",
        fix: "the work stops when the request's token is cancelled",
        route: Some("/abandon"),
        module: "abandon",
        load: Load::Requests {
            query: "?ms=300",
            give_up: Some(Duration::from_millis(50)),
        },
        leaks: Leaks::PerRequest,
    },
    Scenario {
        tag: Tag::L7,
        title: "connections that never finish a request",
        fix: "a connection is closed after --header-timeout without a request head, or --idle-timeout idle",
        route: None,
        module: "server",
        load: Load::SlowConnections,
        leaks: Leaks::PerSlowConnection,
    },
    Scenario {
        tag: Tag::L8,
        title: "work dropped at shutdown",
        fix: "every task is tracked; shutdown drains them within --shutdown-timeout, then cancels",
        route: Some("/save"),
        module: "save",
        load: Load::Shutdown {
            query: "?nums=1,2,3",
        },
        leaks: Leaks::LostAtShutdown,
    },
];
// ANCHOR_END: scenarios

/// The scenario tagged `tag`.
pub fn scenario(tag: Tag) -> &'static Scenario {
    SCENARIOS
        .iter()
        .find(|s| s.tag == tag)
        .expect("every tag has a scenario")
}

impl Tag {
    /// Every tag, in order.
    pub fn all() -> impl Iterator<Item = Tag> {
        SCENARIOS.iter().map(|s| s.tag)
    }

    /// This tag's scenario.
    pub fn scenario(self) -> &'static Scenario {
        scenario(self)
    }

    /// This scenario's route. Panics for a scenario without one (L7): a test that asks
    /// for it is wrong.
    pub fn route(self) -> &'static str {
        self.scenario()
            .route
            .unwrap_or_else(|| panic!("{self} has no route"))
    }
}

impl Scenario {
    /// Route and query the demo and the tests load: `/abandon?ms=300`. Empty for a
    /// scenario without a route.
    pub fn path_and_query(&self) -> String {
        let query = match self.load {
            Load::Requests { query, .. } | Load::Shutdown { query } => query,
            Load::SlowConnections => "",
        };
        format!("{}{query}", self.route.unwrap_or(""))
    }

    /// When the scenario's clients give up, if they do.
    pub fn give_up(&self) -> Option<Duration> {
        match self.load {
            Load::Requests { give_up, .. } => give_up,
            _ => None,
        }
    }

    /// What leaky-server loses, and per what, for tables.
    pub fn what_leaks(&self) -> &'static str {
        match (self.leaks, self.give_up()) {
            (Leaks::PerRequest, None) => "one task per request",
            (Leaks::PerRequest, Some(_)) => "one task per request whose client gave up",
            (Leaks::PerSlowConnection, _) => "one task and one socket per slow connection",
            (Leaks::LostAtShutdown, _) => "every save still being written at shutdown",
        }
    }
}

/// The scenario table as Markdown: what `load-client scenarios` prints, what the README
/// shows and the book includes (a test keeps those copies identical to this).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| tag | route | leak (leaky-server) | fix (fixed-server) | what leaks |\n|---|---|---|---|---|\n",
    );
    for s in &SCENARIOS {
        let route = s
            .route
            .map_or("(any connection)".to_owned(), |r| format!("`GET {r}`"));
        out.push_str(&format!(
            "| {} | {route} | {} | {} | {} |\n",
            s.tag,
            s.title,
            s.fix,
            s.what_leaks()
        ));
    }
    out
}

/// Which of the two servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Server {
    /// leaky-server: every scenario leaks.
    Leaky,
    /// fixed-server: every leak fixed.
    Fixed,
}

impl Server {
    /// Both, leaky first.
    pub const BOTH: [Server; 2] = [Server::Leaky, Server::Fixed];

    /// The crate's (and binary's) name.
    pub fn name(self) -> &'static str {
        match self {
            Server::Leaky => "leaky-server",
            Server::Fixed => "fixed-server",
        }
    }

    /// The server of a crate, by its package name (`env!("CARGO_PKG_NAME")`).
    pub fn from_name(name: &str) -> Option<Server> {
        Server::BOTH.into_iter().find(|s| s.name() == name)
    }

    /// Where the binary listens unless `--addr` says otherwise.
    pub fn default_addr(self) -> SocketAddr {
        let port = match self {
            Server::Leaky => 8001,
            Server::Fixed => 8002,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a request could not be answered: the status and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The client's input is wrong: `400`.
    BadRequest(String),
    /// Something the answer waits on did not come in time: `504`.
    Timeout(String),
    /// A task the answer needed failed: `500`.
    Failed(String),
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let (status, why) = match self {
            Reject::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            Reject::Timeout(why) => (StatusCode::GATEWAY_TIMEOUT, why),
            Reject::Failed(why) => (StatusCode::INTERNAL_SERVER_ERROR, why),
        };
        (status, format!("{why}\n")).into_response()
    }
}

impl From<BadRequest> for Reject {
    fn from(bad: BadRequest) -> Reject {
        Reject::BadRequest(bad.0)
    }
}

/// What a shutdown did: the line each binary prints when it stops, and what the tests
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// From the shutdown signal until `serve` returned.
    pub took: Duration,
    /// Requests in flight when the signal came.
    pub requests_in_flight: usize,
    /// Of those, requests cancelled (`503`) at the deadline.
    pub requests_cancelled: usize,
    /// Whether every request and every tracked task ended before the deadline.
    pub drained: bool,
    /// Saves (`/save`) accepted since the server started.
    pub saves_accepted: u64,
    /// Saves written.
    pub saves_written: u64,
    /// Tasks still running when `serve` returned, if the server tracks its tasks (`None`:
    /// it does not know; whatever it spawned is dropped with the runtime).
    pub tasks_left_running: Option<usize>,
}

impl ShutdownReport {
    /// Saves accepted and never written: work lost.
    pub fn saves_lost(&self) -> u64 {
        self.saves_accepted.saturating_sub(self.saves_written)
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shutdown in {} ms: {} request(s) in flight at the signal, {} cancelled (503) at the deadline; \
             saves: {} accepted, {} written, {} lost; ",
            self.took.as_millis(),
            self.requests_in_flight,
            self.requests_cancelled,
            self.saves_accepted,
            self.saves_written,
            self.saves_lost(),
        )?;
        match self.tasks_left_running {
            Some(n) => write!(f, "{n} task(s) left running"),
            None => write!(
                f,
                "tasks not tracked (any still running are dropped mid-work)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_in_order() {
        let tags: Vec<Tag> = Tag::all().collect();
        let mut sorted = tags.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(tags, sorted);
        assert_eq!(tags.len(), SCENARIOS.len());
        for (i, tag) in tags.iter().enumerate() {
            assert_eq!(tag.to_string(), format!("L{}", i + 1));
        }
    }

    #[test]
    fn routes_are_unique_paths() {
        let routes: Vec<&str> = SCENARIOS.iter().filter_map(|s| s.route).collect();
        let mut unique = routes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(routes.len(), unique.len());
        for route in routes {
            assert!(route.starts_with('/') && !route.contains('?'), "{route}");
        }
        assert_eq!(scenario(Tag::L6).path_and_query(), "/abandon?ms=300");
        assert_eq!(Tag::L1.route(), "/sum");
    }

    #[test]
    fn servers_by_name() {
        for server in Server::BOTH {
            assert_eq!(Server::from_name(server.name()), Some(server));
        }
        assert_eq!(Server::from_name("other"), None);
    }
}
