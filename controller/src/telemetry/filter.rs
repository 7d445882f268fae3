//! klog's verbosity for `tracing`: `-v` and `--vmodule` decide which events are written.
//!
//! klog writes errors, warnings and `klog.Info` at every verbosity and `klog.V(n)` from `-v=n`;
//! here error, warn and info are level 0 (but for the libraries' spans: 4); our own and the
//! provider's debug 4 (the Go original's `klog.V(4)` reconcile messages) and trace 5; the
//! libraries' debug (kube, hyper, rustls: one line per request, as client-go's `V(6)` request
//! log) 6 and trace 8. `--vmodule` gives source files or modules their own verbosity.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::settings::VModule;

/// Targets of our own code and of the provider library (its events arrive as `provider`).
const OWN_TARGETS: [&str; 3] = ["multicluster_provider", "mcp_", "provider"];

/// The klog verbosity an event or span needs.
pub fn klog_level(meta: &Metadata<'_>) -> u32 {
    let own = OWN_TARGETS.iter().any(|t| meta.target().starts_with(t));
    match (*meta.level(), own) {
        // A library's spans only repeat ours (kube-runtime's `reconciling object` around each
        // reconcile names the object our `reconcile` span names): from -v=4, as our debug lines.
        (Level::ERROR | Level::WARN | Level::INFO, false) if meta.is_span() => 4,
        (Level::ERROR | Level::WARN | Level::INFO, _) => 0,
        (Level::DEBUG, true) => 4,
        (Level::TRACE, true) => 5,
        (Level::DEBUG, false) => 6,
        (Level::TRACE, false) => 8,
    }
}

fn level_filter_for(verbosity: u32) -> LevelFilter {
    match verbosity {
        0..=3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// `-v` and `--vmodule` as a global filter layer.
#[derive(Debug, Clone)]
pub struct KlogFilter {
    verbosity: u32,
    vmodule: Vec<VModule>,
}

impl KlogFilter {
    pub fn new(verbosity: u32, vmodule: Vec<VModule>) -> Self {
        KlogFilter { verbosity, vmodule }
    }

    /// The verbosity that applies to `meta`'s callsite: the first matching `--vmodule` item's,
    /// else `-v`.
    fn verbosity_for(&self, meta: &Metadata<'_>) -> u32 {
        self.vmodule
            .iter()
            .find(|item| matches_callsite(&item.pattern, meta))
            .map_or(self.verbosity, |item| item.verbosity)
    }

    fn is_enabled(&self, meta: &Metadata<'_>) -> bool {
        klog_level(meta) <= self.verbosity_for(meta)
    }
}

impl<S: Subscriber> Layer<S> for KlogFilter {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // The decision depends on the callsite alone, so it is made once per callsite.
        if self.is_enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.is_enabled(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let most = self
            .vmodule
            .iter()
            .map(|item| item.verbosity)
            .chain([self.verbosity])
            .max()
            .unwrap_or(0);
        Some(level_filter_for(most))
    }
}

/// Whether a `--vmodule` pattern names this callsite. As klog matches a pattern against the Go
/// file's name without `.go` (or, with a `/`, its path), a pattern here matches the source
/// file's name without `.rs` (`leader`), with a `/` the end of its path without `.rs`
/// (`multicluster_ingress/*`), with `::` the module path (`multicluster_provider::cache`,
/// `kube_runtime::*`), and otherwise also the event's target (`provider` for the provider
/// library's events).
pub fn matches_callsite(pattern: &str, meta: &Metadata<'_>) -> bool {
    if pattern.contains("::") {
        return meta.module_path().is_some_and(|m| glob(pattern, m, false))
            || glob(pattern, meta.target(), false);
    }
    let Some(file) = meta.file() else {
        return glob(pattern, meta.target(), false);
    };
    let path = file.strip_suffix(".rs").unwrap_or(file);
    if pattern.contains('/') {
        // Any tail of the path that starts at a component.
        let mut tail = path;
        loop {
            if glob(pattern, tail, true) {
                return true;
            }
            match tail.split_once('/') {
                Some((_, rest)) => tail = rest,
                None => return false,
            }
        }
    }
    let stem = path.rsplit('/').next().unwrap_or(path);
    glob(pattern, stem, true) || glob(pattern, meta.target(), false)
}

/// `*` (any run of characters, not `/` in a path) and `?` (one character), as Go's
/// `filepath.Match` without character classes.
fn glob(pattern: &str, text: &str, path: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' && !(path && t[ti] == '/') || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star
            && !(path && t[st] == '/')
        {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_go() {
        assert!(glob("leader", "leader", true));
        assert!(glob("lea*", "leader", true));
        assert!(glob("l?ader", "leader", true));
        assert!(!glob("leader", "leaders", true));
        assert!(glob(
            "multicluster_ingress/*",
            "multicluster_ingress/reconcile",
            true
        ));
        assert!(!glob("*", "a/b", true));
        assert!(glob(
            "multicluster_provider::*",
            "multicluster_provider::a::b",
            false
        ));
        assert!(glob("*", "", true));
    }

    #[test]
    fn a_librarys_spans_wait_for_verbosity_4() {
        let kube_span =
            tracing::info_span!(target: "kube_runtime::controller", "reconciling object");
        let own_span = tracing::info_span!("reconcile");
        assert_eq!(klog_level(kube_span.metadata().unwrap()), 4);
        assert_eq!(klog_level(own_span.metadata().unwrap()), 0);
        assert!(!KlogFilter::new(1, Vec::new()).is_enabled(kube_span.metadata().unwrap()));
        assert!(KlogFilter::new(4, Vec::new()).is_enabled(kube_span.metadata().unwrap()));
    }

    #[test]
    fn vmodule_raises_one_file_and_module() {
        // This test's own callsites: file controller/src/telemetry/filter.rs, module
        // multicluster_provider::telemetry::filter::tests.
        let filter = KlogFilter::new(
            0,
            vec![VModule {
                pattern: "filter".into(),
                verbosity: 4,
            }],
        );
        let debug = tracing::debug_span!("x");
        let meta = debug.metadata().unwrap();
        assert!(filter.is_enabled(meta), "debug is on in filter.rs");
        let trace = tracing::trace_span!("y");
        assert!(!filter.is_enabled(trace.metadata().unwrap()));
        assert!(!KlogFilter::new(0, Vec::new()).is_enabled(meta));
        assert!(KlogFilter::new(4, Vec::new()).is_enabled(meta));
        for pattern in [
            "telemetry/*",
            "src/telemetry/filter",
            "multicluster_provider::telemetry::*",
        ] {
            assert!(matches_callsite(pattern, meta), "{pattern}");
        }
        for pattern in ["telemetry", "leader", "other/*", "kube::*"] {
            assert!(!matches_callsite(pattern, meta), "{pattern}");
        }
        assert_eq!(
            <KlogFilter as Layer<tracing_subscriber::Registry>>::max_level_hint(&filter),
            Some(LevelFilter::DEBUG)
        );
    }
}
