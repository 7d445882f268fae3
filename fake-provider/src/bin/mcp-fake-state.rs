//! `mcp-fake-state PATH`: prints the fake provider's state database (`stateFile`) as JSON, for
//! scripts: `{"balancers": {KEY: {"status", "createdBy", "backends"?}}, "created": [KEY...],
//! "deleted": [KEY...], "calls": [{"seq", "pid", "method", "object", "error"?, "overlapping"?,
//! "view"?}]}` (`backends`: the backend view of the balancer's last ensure/update, private keys
//! as `sha256:<hex>`). A missing file prints the empty state. The schema, for SQL, is in
//! docs/fake-provider.md.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!(
            "usage: mcp-fake-state PATH\nPrints the fake provider's state file (its stateFile) as JSON."
        );
        return ExitCode::from(2);
    };
    if path == "-h" || path == "--help" {
        println!(
            "usage: mcp-fake-state PATH\nPrints the fake provider's state file (its stateFile) as JSON."
        );
        return ExitCode::SUCCESS;
    }
    match mcp_provider_fake::read_state_file(path.as_ref()) {
        Ok(state) => match serde_json::to_string_pretty(&state) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mcp-fake-state: cannot encode the state: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("mcp-fake-state: {}", e.message());
            ExitCode::FAILURE
        }
    }
}
