//! # Exercise 11: write your own leak test
//!
//! **Goal:** write the test that would have caught a leak, before it shipped.
//!
//! A message `Bus` hands out `Subscription`s. Each subscription is fed by a forwarder
//! task that passes on the bus's messages matching its prefix. When a subscription is
//! dropped, its forwarder must end.
//!
//! This crate has two versions of the bus: the fixed one (default) and a leaky one
//! (`--features leaky`), whose forwarders outlive their subscriptions. Don't read them
//! to find the difference: treat the bus as a black box.
//!
//! Your job is `tests/leak.rs` (the TODO there). `cargo run -p exercises -- check 11`
//! runs your test against both versions: it is solved when the test *fails on the leaky
//! version because of the leak* and *passes on the fixed one*.

#[cfg(feature = "leaky")]
mod leaky;
#[cfg(feature = "leaky")]
pub use leaky::{Bus, Subscription};

#[cfg(not(feature = "leaky"))]
mod fixed;
#[cfg(not(feature = "leaky"))]
pub use fixed::{Bus, Subscription};
