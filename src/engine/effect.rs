//! Side effects outside the database: what a decision asks for besides actions
//! and state (edit the word-list file, reload the config, read a picture's QR
//! codes). An [`Effect`] is committed with the decision that asked for it and
//! carried out after that commit by the handler registered for its kind, so a
//! retried or replayed decision never applies it twice, and a crash between the
//! commit and the effect only delays it.
//!
//! Handlers must be idempotent: a run cut short by a crash is repeated on the
//! next start with `retry` set, and must then accept that its work may be done.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::Outbound;

/// A side effect a feature asks for: a kind naming its handler, and the handler's
/// own JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub kind: String,
    pub payload: Value,
}

impl Effect {
    pub fn new(kind: &str, payload: &impl Serialize) -> Effect {
        Effect {
            kind: kind.to_string(),
            payload: serde_json::to_value(payload).unwrap_or(Value::Null),
        }
    }

    /// The payload as the handler's type.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }
}

/// What came of an effect: a note for the log, and actions to queue with its
/// completion (an answer in the chat).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EffectOutcome {
    pub detail: Value,
    pub followups: Vec<Outbound>,
}

pub type EffectFuture<'a> = Pin<Box<dyn Future<Output = EffectOutcome> + Send + 'a>>;

/// Carries out effects of one kind.
pub trait EffectHandler: Send + Sync {
    /// Runs one effect. `retry` is true when an earlier run may have applied it.
    fn run<'a>(&'a self, payload: &'a Value, retry: bool) -> EffectFuture<'a>;
}

/// The handlers, by kind. The daemon registers its adapters at start; an effect
/// with no handler is closed with an error in the log, never retried forever.
#[derive(Clone, Default)]
pub struct Effects {
    handlers: HashMap<String, Arc<dyn EffectHandler>>,
}

impl Effects {
    pub fn with(mut self, kind: &str, handler: impl EffectHandler + 'static) -> Self {
        self.handlers.insert(kind.to_string(), Arc::new(handler));
        self
    }

    pub async fn run(&self, kind: &str, payload: &Value, retry: bool) -> EffectOutcome {
        match self.handlers.get(kind) {
            Some(handler) => handler.run(payload, retry).await,
            None => {
                tracing::warn!("no handler for effect {kind}; closed without running");
                EffectOutcome {
                    detail: serde_json::json!({"error": format!("no handler for {kind}")}),
                    followups: Vec::new(),
                }
            }
        }
    }
}
