//! One test per transport. rstest's `#[values]` cannot take a const array
//! and a macro cannot read one, so the macros below name the transports
//! themselves; the const checks at the end of this file stop the build
//! when [`Transport::ALL`] gains a transport they do not expand to. Tests
//! written with them then pick a new transport up without being edited;
//! where a test's expectation differs per transport, its `match` on the
//! transport fails to compile until the new one is given its own.

use protocol::Transport;

/// The transports [`per_transport!`](crate::per_transport) expands to, in
/// order: every reliable one (a transport that drops messages by design,
/// [`Transport::drops_by_design`], cannot pass tests that assert nothing is
/// lost, and has tests of its own).
pub const EXPANDED: [Transport; 7] = [
    Transport::ShortPoll,
    Transport::LongPoll,
    Transport::Sse,
    Transport::Ws,
    Transport::SocketIo,
    Transport::SocketIoPolling,
    Transport::WebTransport,
];

/// The transports [`per_push_transport!`](crate::per_push_transport) expands to, in order.
pub const EXPANDED_PUSH: [Transport; 4] = [
    Transport::Sse,
    Transport::Ws,
    Transport::SocketIo,
    Transport::WebTransport,
];

/// `per_transport!(#[tokio::test] name)` runs `async fn name(t: Transport)`
/// as one test per transport: a module `name` with the tests `short_poll`,
/// `long_poll`, `sse`, `ws`, `socketio`, `socketio_polling` and
/// `webtransport` (so a failure
/// names its transport), each carrying the given test attribute.
#[macro_export]
macro_rules! per_transport {
    (#[$attr:meta] $name:ident) => {
        $crate::__tests_of!(#[$attr] $name, EXPANDED: short_poll 0, long_poll 1, sse 2, ws 3, socketio 4, socketio_polling 5, webtransport 6);
    };
}

/// As [`per_transport!`](crate::per_transport), for the push transports ([`Transport::is_push`]):
/// the tests `name::sse`, `name::ws`, `name::socketio` and `name::webtransport`.
#[macro_export]
macro_rules! per_push_transport {
    (#[$attr:meta] $name:ident) => {
        $crate::__tests_of!(#[$attr] $name, EXPANDED_PUSH: sse 0, ws 1, socketio 2, webtransport 3);
    };
}

/// The module of tests behind both macros: `test` runs `name(list[i])`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tests_of {
    (#[$attr:meta] $name:ident, $list:ident: $($test:ident $i:literal),*) => {
        mod $name {
            $(#[$attr] async fn $test() { super::$name($crate::$list[$i]).await })*
        }
    };
}

/// `list` is `Transport::ALL`'s reliable transports (only the push ones
/// when `push_only`), in order.
const fn is_all(list: &[Transport], push_only: bool) -> bool {
    let mut i = 0;
    let mut j = 0;
    while i < Transport::ALL.len() {
        let t = Transport::ALL[i];
        if !t.drops_by_design() && (!push_only || t.is_push()) {
            if j >= list.len() || list[j].index() != t.index() {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    j == list.len()
}

const _: () = assert!(
    is_all(&EXPANDED, false),
    "Transport::ALL changed: give per_transport! (testkit/src/transports.rs) one test per transport"
);
const _: () = assert!(
    is_all(&EXPANDED_PUSH, true),
    "the push transports changed: give per_push_transport! (testkit/src/transports.rs) one test per push transport"
);
