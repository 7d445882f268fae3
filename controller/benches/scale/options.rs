//! The scale bench's command line (see `scale.rs` for what each option does).

pub struct Options {
    pub while_running: bool,
    pub default_limits: bool,
    pub state_file: bool,
    pub backends: bool,
    pub view_off: bool,
    pub heaptrack: bool,
    pub churn: bool,
    pub sizes: Vec<usize>,
}

impl Options {
    pub fn parse() -> Options {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let flag = |name: &str| args.iter().any(|a| a == name);
        let while_running = flag("--while-running");
        let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        if sizes.is_empty() {
            sizes = if while_running {
                vec![100, 1000]
            } else {
                vec![1000, 3000, 10000]
            };
        }
        let backends = flag("--backends");
        let view_off = flag("--backend-view=off");
        assert!(
            !(backends && while_running),
            "--backends creates its objects before the controller starts: not with --while-running"
        );
        assert!(
            !flag("--churn") || backends || view_off,
            "--churn with the backend view needs --backends (the churned slice must be in a view), or --backend-view=off"
        );
        Options {
            while_running,
            default_limits: flag("--default-limits"),
            state_file: flag("--state-file"),
            backends,
            view_off,
            heaptrack: flag("--heaptrack"),
            churn: flag("--churn"),
            sizes,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{}{}; client limits {}; fake state {}; backend view {}",
            if self.while_running {
                "objects created while the controller runs (no Services)"
            } else {
                "objects created before the controller starts"
            },
            if self.backends {
                " with 2 clusters, a binding and 2 collected EndpointSlices per Service"
            } else {
                ""
            },
            if self.default_limits {
                "40/60 (defaults)"
            } else {
                "2000/4000"
            },
            if self.state_file {
                "in a file"
            } else {
                "in memory"
            },
            if self.view_off { "off" } else { "on" },
        )
    }
}
