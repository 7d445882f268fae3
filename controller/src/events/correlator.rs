//! client-go's EventCorrelator (tools/record), so repeats are aggregated as Kubernetes' recorders
//! aggregate them and a failing object does not flood the API server:
//!
//! - **the same event again** (same source, object, type, reason and message) patches the first
//!   one: `count` + 1 and a new `lastTimestamp`, which `kubectl describe` shows as
//!   `(x5 over 10m)`;
//! - **similar events** (same source, object, type and reason; 10 different messages within 10
//!   minutes) become one `(combined from similar events): <message>` event, counted as above.
//!   As client-go, at most 10 messages are remembered per key: at the 10th one is forgotten
//!   (any one, `PopAny`), so a repeat of a message still remembered is counted on its own
//!   event, a new one on the combined event;
//! - **the spam filter**: at most 25 events per source and object, then one per 5 minutes.
//!
//! Each cache keeps at most 4096 keys, dropping the least recently used (client-go's LRU size).
//! Keys are kept as 64-bit hashes of client-go's key strings, not the strings themselves: an
//! entry costs tens of bytes instead of hundreds, and two different events would have to
//! collide among at most 4096 keys (odds of about one in 10^12) to be counted together.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;

use crate::token_bucket::TokenBucket;

const MAX_KEYS: usize = 4096;
const AGGREGATE_MAX_MESSAGES: usize = 10;
const AGGREGATE_INTERVAL: Duration = Duration::from_secs(600);
const SPAM_BURST: u32 = 25;
const SPAM_QPS: f64 = 1.0 / 300.0;

/// What a recorded event is about and says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey {
    /// The reporting component (`source.component`).
    pub component: &'static str,
    /// The involved object: apiVersion, kind, namespace, name, uid.
    pub object: [String; 5],
    pub type_: &'static str,
    pub reason: String,
    pub message: String,
}

/// A key's hash (the same in every process: `DefaultHasher::new` has fixed keys).
type Key = u64;

fn hash_of(parts: &[&str]) -> Key {
    let mut hasher = DefaultHasher::new();
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        part.hash(&mut hasher);
    }
    hasher.finish()
}

impl EventKey {
    /// Source and object (client-go's spam key).
    fn spam_parts(&self) -> Vec<&str> {
        [self.component, self.type_]
            .into_iter()
            .chain(self.object.iter().map(String::as_str))
            .collect()
    }

    fn spam_key(&self) -> Key {
        hash_of(&self.spam_parts())
    }

    /// Source, object, type and reason (client-go's aggregate key).
    fn aggregate_key(&self) -> Key {
        let mut parts = self.spam_parts();
        parts.push(&self.reason);
        hash_of(&parts)
    }

    /// Everything, message included (client-go's event key).
    fn event_key(&self) -> Key {
        let mut parts = self.spam_parts();
        parts.extend([self.reason.as_str(), self.message.as_str()]);
        hash_of(&parts)
    }
}

/// What to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new Event named `name`, `count` 1, with `message`.
    Create { name: String, message: String },
    /// Event `name` again: set `count` and `lastTimestamp` (and `message`). `first` is when
    /// it was first seen, for creating it anew if it expired.
    Patch {
        name: String,
        count: u32,
        message: String,
        first: Timestamp,
    },
    /// Dropped by the spam filter.
    Skip,
}

/// A map that forgets its least recently used key beyond [`MAX_KEYS`]; every operation is
/// O(log n).
struct Lru<V> {
    /// Each key's value and the tick of its last use.
    entries: HashMap<Key, (V, u64)>,
    /// Keys by the tick of their last use, oldest first.
    order: BTreeMap<u64, Key>,
    tick: u64,
}

impl<V> Default for Lru<V> {
    fn default() -> Self {
        Lru {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
        }
    }
}

impl<V> Lru<V> {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn get_mut(&mut self, key: Key) -> Option<&mut V> {
        let tick = self.next_tick();
        let (value, used) = self.entries.get_mut(&key)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, key);
        Some(value)
    }

    fn remove(&mut self, key: Key) -> Option<V> {
        let (value, used) = self.entries.remove(&key)?;
        self.order.remove(&used);
        Some(value)
    }

    fn insert(&mut self, key: Key, value: V) {
        self.remove(key);
        if self.entries.len() >= MAX_KEYS
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.entries.remove(&oldest);
        }
        let tick = self.next_tick();
        self.entries.insert(key, (value, tick));
        self.order.insert(tick, key);
    }
}

struct Aggregate {
    /// The hashes of the different messages seen, fewer than [`AGGREGATE_MAX_MESSAGES`].
    messages: HashSet<Key>,
    last: Instant,
}

struct Logged {
    name: String,
    count: u32,
    first: Timestamp,
}

#[derive(Default)]
pub struct Correlator {
    spam: Lru<TokenBucket>,
    aggregates: Lru<Aggregate>,
    logged: Lru<Logged>,
}

impl Correlator {
    /// Decides what one event, recorded at `now` (`time` on the wall clock), becomes.
    /// `new_name` names a new Event (`<object>.<hex nanos>`).
    pub fn observe(
        &mut self,
        event: &EventKey,
        now: Instant,
        time: Timestamp,
        new_name: impl FnOnce() -> String,
    ) -> Decision {
        // Similar events: the 10th different message within the interval is combined.
        let aggregate_key = event.aggregate_key();
        let fresh = || Aggregate {
            messages: HashSet::new(),
            last: now,
        };
        let mut record = match self.aggregates.remove(aggregate_key) {
            Some(a) if now.saturating_duration_since(a.last) <= AGGREGATE_INTERVAL => a,
            _ => fresh(),
        };
        record.messages.insert(hash_of(&[&event.message]));
        record.last = now;
        let combined = record.messages.len() >= AGGREGATE_MAX_MESSAGES;
        if combined {
            // Bounded, as client-go's `localKeys.PopAny()`: forget any one message.
            let any = record.messages.iter().next().copied();
            if let Some(any) = any {
                record.messages.remove(&any);
            }
        }
        self.aggregates.insert(aggregate_key, record);
        let (key, message) = if combined {
            (
                aggregate_key,
                format!("(combined from similar events): {}", event.message),
            )
        } else {
            (event.event_key(), event.message.clone())
        };

        // The same event again: count it on the first one.
        let decision = match self.logged.get_mut(key) {
            Some(logged) => {
                logged.count += 1;
                Decision::Patch {
                    name: logged.name.clone(),
                    count: logged.count,
                    message,
                    first: logged.first,
                }
            }
            None => {
                let name = new_name();
                self.logged.insert(
                    key,
                    Logged {
                        name: name.clone(),
                        count: 1,
                        first: time,
                    },
                );
                Decision::Create { name, message }
            }
        };

        // The spam filter, per source and object.
        let spam_key = event.spam_key();
        let allowed = match self.spam.get_mut(spam_key) {
            Some(bucket) => bucket.try_take(now),
            None => {
                let mut bucket = TokenBucket::new(SPAM_QPS, SPAM_BURST);
                bucket.reset(now);
                let allowed = bucket.try_take(now);
                self.spam.insert(spam_key, bucket);
                allowed
            }
        };
        if allowed { decision } else { Decision::Skip }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::UNIX_EPOCH;

    fn event(reason: &str, message: &str) -> EventKey {
        EventKey {
            component: "multiclusteringress-controller",
            object: [
                "networking.karmada.io/v1alpha1".into(),
                "MultiClusterIngress".into(),
                "default".into(),
                "web".into(),
                "uid-1".into(),
            ],
            type_: "Warning",
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn repeats_patch_the_first_event() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let e = event("SyncLoadBalancerFailed", "quota exceeded");
        assert_eq!(
            c.observe(&e, now, T0, || "web.1".into()),
            Decision::Create {
                name: "web.1".into(),
                message: "quota exceeded".into()
            }
        );
        for count in 2..=3 {
            let later = T0 + Duration::from_secs(u64::from(count));
            assert_eq!(
                c.observe(&e, now, later, || unreachable!()),
                Decision::Patch {
                    name: "web.1".into(),
                    count,
                    message: "quota exceeded".into(),
                    // When it was first seen, to create it anew if it expired.
                    first: T0,
                }
            );
        }
        // Another reason is another event.
        let other = event("EnsuredLoadBalancer", "Ensured load balancer");
        assert!(matches!(
            c.observe(&other, now, T0, || "web.2".into()),
            Decision::Create { .. }
        ));
    }

    #[test]
    fn similar_events_are_combined() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let mut n = 0;
        let mut name = || {
            n += 1;
            format!("web.{n}")
        };
        for i in 0..9 {
            let d = c.observe(
                &event("SyncLoadBalancerFailed", &format!("error {i}")),
                now,
                T0,
                &mut name,
            );
            assert!(matches!(d, Decision::Create { .. }), "{i}: {d:?}");
        }
        let tenth = c.observe(
            &event("SyncLoadBalancerFailed", "error 9"),
            now,
            T0,
            &mut name,
        );
        assert_eq!(
            tenth,
            Decision::Create {
                name: "web.10".into(),
                message: "(combined from similar events): error 9".into()
            }
        );
        let eleventh = c.observe(
            &event("SyncLoadBalancerFailed", "error 10"),
            now,
            T0,
            &mut name,
        );
        assert_eq!(
            eleventh,
            Decision::Patch {
                name: "web.10".into(),
                count: 2,
                message: "(combined from similar events): error 10".into(),
                first: T0,
            }
        );
        // Ten minutes later it starts over.
        let later = now + AGGREGATE_INTERVAL + Duration::from_secs(1);
        let d = c.observe(
            &event("SyncLoadBalancerFailed", "error 11"),
            later,
            T0,
            &mut name,
        );
        assert!(matches!(d, Decision::Create { message, .. } if message == "error 11"));
    }

    #[test]
    fn the_messages_remembered_per_key_are_capped() {
        let mut c = Correlator::default();
        let start = Instant::now();
        let aggregate_key = event("SyncLoadBalancerFailed", "").aggregate_key();
        let mut last = Decision::Skip;
        for i in 0..1000u32 {
            // One event per 301 s: within the aggregation interval, and past the spam filter.
            let now = start + Duration::from_secs(301 * u64::from(i));
            let e = event("SyncLoadBalancerFailed", &format!("error {i}"));
            last = c.observe(&e, now, T0, || format!("web.{i}"));
            let remembered = c
                .aggregates
                .get_mut(aggregate_key)
                .map(|a| a.messages.len());
            assert!(
                remembered < Some(AGGREGATE_MAX_MESSAGES),
                "{i}: {remembered:?}"
            );
        }
        // The 10th different message created the combined event; the 990 after it count on it.
        assert_eq!(
            last,
            Decision::Patch {
                name: "web.9".into(),
                count: 991,
                message: "(combined from similar events): error 999".into(),
                first: T0,
            }
        );
    }

    #[test]
    fn the_least_recently_used_key_goes_first() {
        let mut lru = Lru::default();
        for key in 0..MAX_KEYS as u64 {
            lru.insert(key, key);
        }
        // Key 0 is used again, so key 1 is the oldest when a new key comes.
        assert_eq!(lru.get_mut(0), Some(&mut 0));
        lru.insert(u64::MAX, 7);
        assert_eq!(lru.entries.len(), MAX_KEYS);
        assert!(lru.get_mut(1).is_none());
        assert!(lru.get_mut(0).is_some() && lru.get_mut(2).is_some());
        assert_eq!(lru.order.len(), lru.entries.len());
    }

    #[test]
    fn a_flood_is_cut_to_one_event_per_five_minutes() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let e = event("SyncLoadBalancerFailed", "quota exceeded");
        let written = (0..100)
            .filter(|_| c.observe(&e, now, T0, || "web.1".into()) != Decision::Skip)
            .count();
        assert_eq!(written, 25);
        assert_eq!(
            c.observe(&e, now + Duration::from_secs(299), T0, || unreachable!()),
            Decision::Skip
        );
        assert!(matches!(
            c.observe(&e, now + Duration::from_secs(301), T0, || unreachable!()),
            Decision::Patch { count: 102, .. }
        ));
    }
}
