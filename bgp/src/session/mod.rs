//! The BGP session state machine (RFC 4271 §8), sans-IO.
//!
//! [`Session::handle`] takes the current time and one [`Input`] (an administrative
//! event, a TCP event, received bytes, or a timer that fired) and returns what to do
//! ([`Output`]: bytes to send, timers to set or cancel, connect or close, state changes,
//! the negotiated session, received UPDATEs). Each input, and each whole message
//! received, is one event of RFC 4271 §8.1, handled by a method named after it. It never
//! reads a clock or touches a socket; the tokio driver does that, and tests drive it with
//! explicit time.

mod fsm;
#[cfg(test)]
mod tests;

pub use fsm::{Config, Down, Input, Negotiated, Output, Session, State, Timer};
