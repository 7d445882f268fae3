//! What a provider call sends: the object as JSON, the backend view as JSON for a provider that
//! asks for it (interface 1.2), and the key calls about the object are ordered by.
//!
//! A reconcile that makes several calls about one object (`get`, then `ensure` or `update`)
//! encodes it once into an [`Encoded`] and passes that to each call; passing the object itself
//! encodes it for that call alone. The JSON is the same either way (`serde_json`'s compact form
//! of the object, what providers have always been sent).
//!
//! The text is written into a buffer taken from a small process-wide pool and given back when
//! the last call holding it returns: a 1 kB object allocated anew per call, on the calling
//! thread, and freed on the blocking thread that ran the call costs the allocator more than
//! encoding it (measured in docs/performance.md, "The provider boundary").

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use mcp_interface::backends::Backends;

use crate::kind::ObjectKind;
use crate::object_lock::ObjectKey;

/// What a provider method accepts for an object of kind `K`: the object (encoded for this call)
/// or an [`Encoded`] one (shared by the calls of one reconcile).
pub trait Payload<K> {
    fn encoded(&self) -> Encoded<K>;
}

impl<K: ObjectKind> Payload<K> for K {
    fn encoded(&self) -> Encoded<K> {
        Encoded::new(self)
    }
}

impl<K: ObjectKind> Payload<K> for Arc<K> {
    fn encoded(&self) -> Encoded<K> {
        Encoded::new(self.as_ref())
    }
}

impl<K> Payload<K> for Encoded<K> {
    fn encoded(&self) -> Encoded<K> {
        self.clone()
    }
}

/// An object encoded once for any number of provider calls. Cloning shares the text.
pub struct Encoded<K> {
    inner: Arc<Inner>,
    kind: PhantomData<fn() -> K>,
}

struct Inner {
    key: ObjectKey,
    /// The JSON, or why the object could not be encoded (each call reports it).
    json: Result<Buffer, String>,
    /// The backend view as JSON, when the caller resolved one.
    backends: Option<EncodedView>,
}

/// A backend view encoded once: the JSON text a provider is sent (or why it could not be
/// encoded), which the caller may also hash to tell whether a view changed, without encoding
/// it a second time. Cloning copies the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedView(Result<String, String>);

impl EncodedView {
    pub fn of(backends: &Backends) -> Self {
        EncodedView(serde_json::to_string(backends).map_err(|e| e.to_string()))
    }

    /// The view's JSON, or why it could not be encoded.
    pub fn json(&self) -> Result<&str, &str> {
        match &self.0 {
            Ok(json) => Ok(json),
            Err(e) => Err(e),
        }
    }
}

impl<K> Clone for Encoded<K> {
    fn clone(&self) -> Self {
        Encoded {
            inner: self.inner.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: ObjectKind> Encoded<K> {
    /// The object alone.
    pub fn new(object: &K) -> Self {
        Self::encode(object, None)
    }

    /// The object and the backend view behind it, for a provider that asks for the view
    /// ([`Provider::wants_backends`](crate::Provider::wants_backends)); other providers are sent
    /// the object alone.
    pub fn with_backends(object: &K, backends: &Backends) -> Self {
        Self::with_view(object, EncodedView::of(backends))
    }

    /// The object and a backend view the caller encoded (see [`EncodedView`]).
    pub fn with_view(object: &K, view: EncodedView) -> Self {
        Self::encode(object, Some(view))
    }

    fn encode(object: &K, backends: Option<EncodedView>) -> Self {
        let mut bytes = Buffer::take();
        let json = match serde_json::to_writer(&mut bytes, object) {
            // serde_json writes UTF-8 only; checking it is one quick pass.
            Ok(()) => String::from_utf8(bytes)
                .map(Buffer)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        Encoded {
            inner: Arc::new(Inner {
                key: ObjectKey::of(object),
                json,
                backends,
            }),
            kind: PhantomData,
        }
    }
}

impl<K> Encoded<K> {
    /// The JSON text sent to the provider, or why the object could not be encoded.
    pub fn json(&self) -> Result<&str, &str> {
        match &self.inner.json {
            Ok(buffer) => Ok(&buffer.0),
            Err(e) => Err(e),
        }
    }

    /// The backend view as JSON, if one was given (or why it could not be encoded).
    pub fn backends_json(&self) -> Option<Result<&str, &str>> {
        self.inner.backends.as_ref().map(EncodedView::json)
    }

    /// Calls with the same key never overlap.
    pub(crate) fn key(&self) -> &ObjectKey {
        &self.inner.key
    }
}

/// How many idle buffers the pool keeps, and the largest one it keeps: at most 1 MiB in all,
/// a few kB for the usual objects.
const POOL_BUFFERS: usize = 16;
const POOL_MAX_CAPACITY: usize = 64 * 1024;
/// A new buffer's capacity: the usual MultiClusterIngress or MultiClusterService fits.
const NEW_CAPACITY: usize = 4 * 1024;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Text in a buffer from the pool, given back when dropped.
struct Buffer(String);

impl Buffer {
    /// An empty buffer from the pool, or a new one.
    fn take() -> Vec<u8> {
        let pooled = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        pooled.unwrap_or_else(|| Vec::with_capacity(NEW_CAPACITY))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.0.capacity() > POOL_MAX_CAPACITY {
            return;
        }
        let mut buffer = std::mem::take(&mut self.0).into_bytes();
        buffer.clear();
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_BUFFERS {
            pool.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use mcp_interface::api::networking::MultiClusterIngress;

    use super::*;

    fn mci(name: &str, host: &str) -> MultiClusterIngress {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "networking.karmada.io/v1alpha1",
            "kind": "MultiClusterIngress",
            "metadata": {"name": name, "namespace": "shop",
                         "annotations": {"quote": "\"é\\\n\u{1}"}},
            "spec": {"rules": [{"host": host}]}
        }))
        .unwrap()
    }

    #[test]
    fn the_text_is_serde_jsons_and_reused_buffers_hold_no_leftovers() {
        let long = mci("web", &format!("{}.example.com", "a".repeat(5000)));
        let short = mci("api", "api.example.com");
        // Encoded one after the other, so the second reuses the first's buffer.
        for object in [&long, &short, &long] {
            let encoded = Encoded::new(object);
            assert_eq!(
                encoded.json().unwrap(),
                serde_json::to_string(object).unwrap()
            );
            assert_eq!(
                encoded.key().to_string(),
                format!(
                    "MultiClusterIngress/shop/{}",
                    object.metadata.name.as_deref().unwrap()
                )
            );
            let shared = Payload::encoded(&encoded);
            assert_eq!(shared.json(), encoded.json());
        }
    }

    #[test]
    fn the_pool_stays_bounded() {
        let objects: Vec<_> = (0..POOL_BUFFERS * 2)
            .map(|i| Encoded::new(&mci(&format!("web-{i}"), "a.example.com")))
            .collect();
        drop(objects);
        assert!(POOL.lock().unwrap().len() <= POOL_BUFFERS);
        let huge = mci("huge", &"a".repeat(POOL_MAX_CAPACITY * 2));
        drop(Encoded::new(&huge));
        assert!(
            POOL.lock()
                .unwrap()
                .iter()
                .all(|b| b.capacity() <= POOL_MAX_CAPACITY && b.is_empty())
        );
    }
}
