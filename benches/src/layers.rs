//! The sum route (L1) with leak-probe's and fixed-server's layers added one at a time: the
//! `layers` binary serves one stage (for the report's over-the-wire cost table), and the
//! `layers` bench calls each stage in-process (stable enough for criterion, and it counts
//! allocations per request).
//!
//! | stage | adds |
//! |---|---|
//! | `bare` | a plain tokio runtime and axum: the handler spawns its two sum tasks and joins them |
//! | `hooks` | leak-probe's runtime hooks (the task registry) |
//! | `metrics` | leak-probe's debug routes and request metrics (`leak_probe::http::instrument`) |
//! | `harden` | the request limits both servers run under (`scenarios::harden`) |
//! | `scope` | fixed-server's cancellation token per request |
//!
//! fixed-server itself adds the rest: its task tracker, connection deadlines, and its own
//! handler (owned `oneshot` receivers).

use axum::Router;
use axum::routing::get;
use scenarios::harden::{InFlight, Limits};
use scenarios::{Nums, Reject, Tag, nums};

/// How many layers: each stage adds one to the previous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Stage {
    /// axum and tokio, nothing else.
    Bare,
    /// + leak-probe's runtime hooks.
    Hooks,
    /// + leak-probe's request metrics and debug routes.
    Metrics,
    /// + the request limits of `scenarios::harden`.
    Harden,
    /// + fixed-server's cancellation token per request.
    Scope,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Bare,
        Stage::Hooks,
        Stage::Metrics,
        Stage::Harden,
        Stage::Scope,
    ];

    /// Its name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Bare => "bare axum",
            Stage::Hooks => "+ leak-probe runtime hooks",
            Stage::Metrics => "+ leak-probe request metrics",
            Stage::Harden => "+ hardening limits",
            Stage::Scope => "+ cancellation scope",
        }
    }

    /// Whether the runtime gets leak-probe's hooks.
    pub fn hooks(self) -> bool {
        self >= Stage::Hooks
    }
}

/// `GET /sum`: two spawned tasks, each adding up one half, joined.
async fn sum(nums: Nums) -> Result<String, Reject> {
    let (first, second) = nums.halves();
    let a = tokio::spawn(async move { nums::partial_sum(&first) });
    let b = tokio::spawn(async move { nums::partial_sum(&second) });
    match (a.await, b.await) {
        (Ok(x), Ok(y)) => Ok(nums::answer(x + y)?.to_string()),
        _ => Err(Reject::Failed("a sum task failed".into())),
    }
}

/// The router of `stage`, layered as fixed-server layers its own.
pub fn app(stage: Stage) -> Router {
    let mut app = Router::new().route(Tag::L1.route(), get(sum));
    if stage >= Stage::Metrics {
        app = leak_probe::http::instrument(app);
    }
    let limits = (Limits::default(), InFlight::default());
    match stage {
        Stage::Bare | Stage::Hooks | Stage::Metrics => app,
        Stage::Harden => scenarios::harden::harden(app, limits.0, &limits.1),
        Stage::Scope => {
            let scope = fixed_server::scope::RequestScopeLayer::new(fixed_server::AppState::new());
            let app = tower::Layer::layer(&scope, app);
            scenarios::harden::harden(app, limits.0, &limits.1)
        }
    }
}
