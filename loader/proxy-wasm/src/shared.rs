//! What the VMs of a plugin share across worker threads: key-value data
//! with compare-and-swap, queues, and metrics. One [`Shared`] per plugin
//! (several plugins may be given the same one, as Envoy shares by VM id).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::abi::{MetricType, Status};

/// Shared data, queues and metrics of the VMs of one or more plugins.
#[derive(Debug, Default)]
pub struct Shared {
    data: Mutex<Data>,
    queues: Mutex<Vec<Queue>>,
    metrics: Mutex<Vec<Metric>>,
}

/// Shared data, and the bytes of its keys and values.
#[derive(Debug, Default)]
struct Data {
    map: HashMap<String, (Vec<u8>, u32)>,
    bytes: usize,
}

#[derive(Debug)]
struct Queue {
    name: String,
    items: VecDeque<Vec<u8>>,
    bytes: usize,
}

/// The most shared data (keys and values) filters can make the host hold;
/// past it, setting a value is `InternalFailure`.
pub const MAX_SHARED_DATA_BYTES: usize = 64 << 20;
/// The most bytes one queue holds; past it, enqueueing is `InternalFailure`.
pub const MAX_QUEUE_BYTES: usize = 16 << 20;
/// The most queues, and the most metrics, a `Shared` holds.
pub const MAX_QUEUES_OR_METRICS: usize = 10_000;

/// A metric's current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metric {
    /// The name the filter defined it with.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricType,
    /// A counter's or gauge's value; a histogram's sum of recorded values.
    pub value: i64,
    /// How many values a histogram recorded (0 for the others).
    pub count: u64,
}

/// A lock held only for a map operation: a poisoned lock (a panic while
/// it was held, which these operations never do) still guards valid data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Empty data, no queues, no metrics.
    pub fn new() -> Shared {
        Shared::default()
    }

    /// The value of `key` and its CAS token (never 0).
    pub fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        lock(&self.data).map.get(key).cloned()
    }

    /// Sets `key` to `value` if `cas` is 0 or the key's current token
    /// (`CasMismatch` otherwise); a new token is issued.
    pub fn set(&self, key: &str, value: &[u8], cas: u32) -> Status {
        let mut data = lock(&self.data);
        let Data { map, bytes } = &mut *data;
        match map.get_mut(key) {
            Some((_, current)) if cas != 0 && cas != *current => Status::CasMismatch,
            Some(entry) => {
                let total = *bytes - entry.0.len() + value.len();
                if total > MAX_SHARED_DATA_BYTES {
                    return Status::InternalFailure;
                }
                *bytes = total;
                entry.0 = value.to_vec();
                entry.1 = entry.1.checked_add(1).unwrap_or(1);
                Status::Ok
            }
            None => {
                let total = *bytes + key.len() + value.len();
                if total > MAX_SHARED_DATA_BYTES {
                    return Status::InternalFailure;
                }
                *bytes = total;
                map.insert(key.to_string(), (value.to_vec(), 1));
                Status::Ok
            }
        }
    }

    /// The id of the queue `name`, made if new (0, which names no queue,
    /// when there are too many).
    pub fn register_queue(&self, name: &str) -> u32 {
        let mut queues = lock(&self.queues);
        if let Some(i) = queues.iter().position(|q| q.name == name) {
            return queue_id(i);
        }
        if queues.len() >= MAX_QUEUES_OR_METRICS {
            return 0;
        }
        queues.push(Queue { name: name.to_string(), items: VecDeque::new(), bytes: 0 });
        queue_id(queues.len() - 1)
    }

    /// The id of an existing queue.
    pub fn resolve_queue(&self, name: &str) -> Option<u32> {
        lock(&self.queues).iter().position(|q| q.name == name).map(queue_id)
    }

    /// Adds an item to queue `id`.
    pub fn enqueue(&self, id: u32, item: &[u8]) -> Status {
        match lock(&self.queues).get_mut(queue_index(id)) {
            Some(q) if q.bytes + item.len() > MAX_QUEUE_BYTES => Status::InternalFailure,
            Some(q) => {
                q.bytes += item.len();
                q.items.push_back(item.to_vec());
                Status::Ok
            }
            None => Status::NotFound,
        }
    }

    /// Takes the oldest item of queue `id`: `Err(NotFound)` for no such
    /// queue, `Err(Empty)` for an empty one.
    pub fn dequeue(&self, id: u32) -> Result<Vec<u8>, Status> {
        match lock(&self.queues).get_mut(queue_index(id)) {
            Some(q) => {
                let item = q.items.pop_front().ok_or(Status::Empty)?;
                q.bytes -= item.len();
                Ok(item)
            }
            None => Err(Status::NotFound),
        }
    }

    /// Whether queue `id` holds items.
    pub fn queue_has_items(&self, id: u32) -> bool {
        lock(&self.queues).get(queue_index(id)).is_some_and(|q| !q.items.is_empty())
    }

    /// The id of metric `name` of `kind`, made if new (`BadArgument` if the
    /// name is defined with another kind).
    pub fn define_metric(&self, kind: MetricType, name: &str) -> Result<u32, Status> {
        let mut metrics = lock(&self.metrics);
        match metrics.iter().position(|m| m.name == name) {
            Some(i) if metrics[i].kind == kind => Ok(metric_id(i)),
            Some(_) => Err(Status::BadArgument),
            None if metrics.len() >= MAX_QUEUES_OR_METRICS => Err(Status::InternalFailure),
            None => {
                metrics.push(Metric { name: name.to_string(), kind, value: 0, count: 0 });
                Ok(metric_id(metrics.len() - 1))
            }
        }
    }

    /// Adds `delta` to a counter (which never goes down) or a gauge.
    pub fn increment_metric(&self, id: u32, delta: i64) -> Status {
        let mut metrics = lock(&self.metrics);
        let Some(m) = metrics.get_mut(metric_index(id)) else { return Status::NotFound };
        match m.kind {
            MetricType::Counter if delta < 0 => Status::BadArgument,
            MetricType::Counter | MetricType::Gauge => {
                m.value = m.value.saturating_add(delta);
                Status::Ok
            }
            MetricType::Histogram => Status::BadArgument,
        }
    }

    /// Sets a counter or gauge to `value`, or records `value` in a histogram.
    pub fn record_metric(&self, id: u32, value: i64) -> Status {
        let mut metrics = lock(&self.metrics);
        let Some(m) = metrics.get_mut(metric_index(id)) else { return Status::NotFound };
        match m.kind {
            MetricType::Counter | MetricType::Gauge => m.value = value,
            MetricType::Histogram => {
                m.value = m.value.saturating_add(value);
                m.count += 1;
            }
        }
        Status::Ok
    }

    /// A counter's or gauge's value (`BadArgument` for a histogram, which
    /// has no single value).
    pub fn metric_value(&self, id: u32) -> Result<i64, Status> {
        let metrics = lock(&self.metrics);
        let m = metrics.get(metric_index(id)).ok_or(Status::NotFound)?;
        match m.kind {
            MetricType::Histogram => Err(Status::BadArgument),
            _ => Ok(m.value),
        }
    }

    /// Every metric defined so far, in the order of definition.
    pub fn metrics(&self) -> Vec<Metric> {
        lock(&self.metrics).clone()
    }

    /// The metric called `name`.
    pub fn metric(&self, name: &str) -> Option<Metric> {
        lock(&self.metrics).iter().find(|m| m.name == name).cloned()
    }
}

// Ids start at 1 so that 0, what a guest passes when it has none, never
// names anything.
fn queue_id(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}
fn queue_index(id: u32) -> usize {
    usize::try_from(id).map_or(usize::MAX, |i| i.wrapping_sub(1))
}
fn metric_id(index: usize) -> u32 {
    queue_id(index)
}
fn metric_index(id: u32) -> usize {
    queue_index(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap_refuses_a_stale_token() {
        let shared = Shared::new();
        assert_eq!(shared.get("k"), None);
        assert_eq!(shared.set("k", b"1", 0), Status::Ok);
        let (_, cas) = shared.get("k").unwrap();
        assert_eq!(shared.set("k", b"2", cas), Status::Ok);
        assert_eq!(shared.set("k", b"3", cas), Status::CasMismatch);
        assert_eq!(shared.get("k").unwrap().0, b"2");
        let big = vec![0; MAX_SHARED_DATA_BYTES];
        assert_eq!(shared.set("big", &big, 0), Status::InternalFailure);
        assert_eq!(shared.set("k", &big[..MAX_SHARED_DATA_BYTES - 1], 0), Status::Ok);
        assert_eq!(shared.set("k", b"", 0), Status::Ok);
        assert_eq!(shared.set("big", &big[..1000], 0), Status::Ok);
    }

    #[test]
    fn queues_and_metrics() {
        let shared = Shared::new();
        let q = shared.register_queue("q");
        assert_eq!(shared.resolve_queue("q"), Some(q));
        assert_eq!(shared.dequeue(q), Err(Status::Empty));
        assert_eq!(shared.dequeue(0), Err(Status::NotFound));
        shared.enqueue(q, b"a");
        assert!(shared.queue_has_items(q));
        assert_eq!(shared.dequeue(q), Ok(b"a".to_vec()));
        let c = shared.define_metric(MetricType::Counter, "c").unwrap();
        assert_eq!(shared.define_metric(MetricType::Gauge, "c"), Err(Status::BadArgument));
        assert_eq!(shared.increment_metric(c, 2), Status::Ok);
        assert_eq!(shared.increment_metric(c, -1), Status::BadArgument);
        assert_eq!(shared.metric_value(c), Ok(2));
        let g = shared.define_metric(MetricType::Gauge, "g").unwrap();
        assert_eq!(shared.increment_metric(g, -3), Status::Ok);
        assert_eq!(shared.metric_value(g), Ok(-3));
        assert_eq!(shared.record_metric(g, 10), Status::Ok);
        assert_eq!(shared.metric_value(g), Ok(10));
        let h = shared.define_metric(MetricType::Histogram, "h").unwrap();
        assert_eq!(shared.record_metric(h, 5), Status::Ok);
        assert_eq!(shared.record_metric(h, 7), Status::Ok);
        assert_eq!(shared.increment_metric(h, 1), Status::BadArgument);
        assert_eq!(shared.metric_value(h), Err(Status::BadArgument));
        let histogram = shared.metric("h").unwrap();
        assert_eq!((histogram.value, histogram.count), (12, 2));
        assert_eq!(shared.metrics().len(), 3);
    }
}
