//! The call log: an SDK interceptor that counts every API call of one [`Aws`].

use super::*;

/// One API call, as the interceptor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SDK's service name, e.g. `DynamoDB`, `Lambda`, `ApiGatewayV2`.
    pub service: String,
    /// The operation, e.g. `CreateTable`.
    pub operation: String,
}

impl Call {
    /// Whether the call can change something: anything but Get*, List*,
    /// Describe* and Head* (and the read-only `Query`, `Scan`, `ReceiveMessage`).
    pub fn is_mutating(&self) -> bool {
        let op = self.operation.as_str();
        !["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p))
            && !matches!(op, "Query" | "Scan" | "BatchGetItem" | "ReceiveMessage")
    }
}

/// Counts API calls: an SDK interceptor shared by every client of one [`Aws`].
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    /// Every call so far, in the order they started.
    pub fn all(&self) -> Vec<Call> {
        self.calls.lock().expect("call log poisoned").clone()
    }

    pub fn total(&self) -> usize {
        self.calls.lock().expect("call log poisoned").len()
    }

    pub fn mutating(&self) -> Vec<Call> {
        self.all().into_iter().filter(Call::is_mutating).collect()
    }

    /// How many mutating calls of each operation were made, by operation name.
    pub fn mutating_by_operation(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for call in self.mutating() {
            *counts.entry(call.operation).or_insert(0) += 1;
        }
        counts
    }

    /// How many calls of `operation` (e.g. `PutObject`) were made.
    pub fn count(&self, operation: &str) -> usize {
        self.calls.lock().expect("call log poisoned").iter().filter(|c| c.operation == operation).count()
    }

    fn record(&self, cfg: &ConfigBag) -> Call {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        Call { service, operation }
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "wschat::CallLog"
    }

    // Not `read_before_execution`: client interceptors run that before the
    // operation's configuration (and so its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call = self.record(cfg);
        tracing::debug!("AWS {}.{}", call.service, call.operation);
        cfg.interceptor_state().store_put(Started(Instant::now()));
        self.calls.lock().expect("call log poisoned").push(call);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let call = self.record(cfg);
            let ms = cfg.load::<Started>().map_or(0, |started| started.0.elapsed().as_millis());
            let outcome = match context.output_or_error() {
                Some(Err(_)) => "failed",
                _ => "done",
            };
            tracing::debug!("AWS {}.{} {outcome} in {ms} ms", call.service, call.operation);
        }
        Ok(())
    }
}

/// When a call started, for `-v`'s timings.
#[derive(Debug)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}
