//! The store of one request whose session is kept in the cookie (settings: *Session kept in:
//! the cookie itself*): it holds the record the cookie carried, the handler's
//! [`tower_sessions::Session`] loads and saves it there, and the layer seals what is left into
//! the response's cookie. Nothing reaches the server's own store, so the store inspector stays
//! empty while the browsers' jars carry the data — the lab's twin of Express's cookie-session.

use async_trait::async_trait;
use parking_lot::Mutex;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::cookie::Data;

/// One request's session, in memory only.
#[derive(Debug, Default)]
pub(crate) struct OneRecord {
    record: Mutex<Option<Record>>,
}

impl OneRecord {
    /// Holding `data` (the cookie's) under a made-up id, which it returns; nothing if `None`.
    pub(crate) fn holding(
        data: Option<Data>,
        expiry_date: time::OffsetDateTime,
    ) -> (Self, Option<Id>) {
        match data {
            Some(data) => {
                let id = Id::default();
                let record = Record {
                    id,
                    data,
                    expiry_date,
                };
                (
                    Self {
                        record: Mutex::new(Some(record)),
                    },
                    Some(id),
                )
            }
            None => (Self::default(), None),
        }
    }

    /// The data saved last, if the session was not deleted.
    pub(crate) fn take(&self) -> Option<Data> {
        self.record.lock().take().map(|record| record.data)
    }
}

#[async_trait]
impl SessionStore for OneRecord {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        *self.record.lock() = Some(record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        *self.record.lock() = Some(record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self
            .record
            .lock()
            .as_ref()
            .filter(|record| record.id == *id)
            .cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut record = self.record.lock();
        if record.as_ref().is_some_and(|r| r.id == *id) {
            *record = None;
        }
        Ok(())
    }
}
