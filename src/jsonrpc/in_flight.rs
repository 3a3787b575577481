//! The requests in flight: a bounded number of calls, a separate allowance for
//! liveness checks (a host that pings a busy server must still get an answer,
//! or it decides the server is dead), and no two requests with the same id.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Liveness requests answered at once; more wait for one of these to be answered.
pub const LIVENESS_SLOTS: usize = 16;

/// What kind of slot a request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Work: counted against the limit, refused as busy beyond it.
    Call,
    /// A liveness check (MCP's `ping`): never refused as busy.
    Liveness,
}

/// Whether a request may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Its id is already used by a request in flight: the client could not tell
    /// the two answers apart.
    Duplicate,
    /// Every call slot is taken.
    Busy,
    /// Every liveness slot is taken: wait with [`InFlight::admit_liveness`].
    Wait,
}

/// The table of requests in flight, each with a value of the front-end's (a
/// cancellation token, say), by the JSON text of its id.
pub struct InFlight<T = ()> {
    calls: Arc<Semaphore>,
    liveness: Arc<Semaphore>,
    held: Mutex<HashMap<String, (OwnedSemaphorePermit, T)>>,
    max_calls: usize,
}

impl<T> InFlight<T> {
    /// A table allowing `max_calls` calls at once (and the liveness slots).
    pub fn new(max_calls: usize) -> Self {
        Self {
            calls: Arc::new(Semaphore::new(max_calls)),
            liveness: Arc::new(Semaphore::new(LIVENESS_SLOTS)),
            held: Mutex::default(),
            max_calls,
        }
    }

    /// Take a slot for request `key` if one is free.
    pub fn try_admit(&self, key: &str, kind: Kind, value: T) -> Admission {
        let mut held = self.held.lock().expect("in-flight lock");
        if held.contains_key(key) {
            return Admission::Duplicate;
        }
        let slots = match kind {
            Kind::Call => &self.calls,
            Kind::Liveness => &self.liveness,
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                held.insert(key.to_owned(), (permit, value));
                Admission::Admitted
            }
            Err(_) if kind == Kind::Liveness => Admission::Wait,
            Err(_) => Admission::Busy,
        }
    }

    /// Wait for a liveness slot for request `key`. Cancel-safe: nothing is taken
    /// until the slot is.
    pub async fn admit_liveness(&self, key: &str, value: T) {
        let permit = self
            .liveness
            .clone()
            .acquire_owned()
            .await
            .expect("the liveness semaphore is never closed");
        self.held
            .lock()
            .expect("in-flight lock")
            .insert(key.to_owned(), (permit, value));
    }

    /// The request was answered (or cancelled): free its slot; its value.
    pub fn release(&self, key: &str) -> Option<T> {
        self.held
            .lock()
            .expect("in-flight lock")
            .remove(key)
            .map(|(_, value)| value)
    }

    /// Look at request `key`'s value, if it is in flight.
    pub fn with<R>(&self, key: &str, look: impl FnOnce(&T) -> R) -> Option<R> {
        self.held
            .lock()
            .expect("in-flight lock")
            .get(key)
            .map(|(_, value)| look(value))
    }

    pub fn is_empty(&self) -> bool {
        self.held.lock().expect("in-flight lock").is_empty()
    }

    /// The "server busy" message, naming the setting.
    pub fn busy_message(&self, what: &str) -> String {
        format!(
            "Server busy: {} {what} are in flight (--max-in-flight); retry when some have been \
             answered",
            self.max_calls
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_bounded_liveness_has_its_own_slots_and_ids_are_unique() {
        let table = InFlight::new(2);
        assert_eq!(table.try_admit("1", Kind::Call, ()), Admission::Admitted);
        assert_eq!(table.try_admit("1", Kind::Call, ()), Admission::Duplicate);
        assert_eq!(table.try_admit("2", Kind::Call, ()), Admission::Admitted);
        assert_eq!(table.try_admit("3", Kind::Call, ()), Admission::Busy);
        for n in 0..LIVENESS_SLOTS {
            let key = format!("p{n}");
            assert_eq!(
                table.try_admit(&key, Kind::Liveness, ()),
                Admission::Admitted
            );
        }
        assert_eq!(table.try_admit("p", Kind::Liveness, ()), Admission::Wait);
        table.release("p0");
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            table.admit_liveness("p", ()),
        )
        .await
        .expect("a freed liveness slot is taken");
        table.release("1");
        assert_eq!(table.try_admit("3", Kind::Call, ()), Admission::Admitted);
        assert!(!table.is_empty());
    }
}
