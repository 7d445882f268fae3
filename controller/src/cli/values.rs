//! Flag values parsed as the Go original's pflag values parse them.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::settings::{ListenAddress, VModule};

/// A bool as Go's `strconv.ParseBool` reads it (pflag's bool flags).
pub fn go_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{value:?} is not a bool: use true or false")),
    }
}

/// klog's verbosity level: an unsigned 31-bit number.
pub fn level(value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|v| *v <= i32::MAX as u32)
        .ok_or_else(|| format!("{value:?} is not a verbosity level: use 0, 1, 2, ..."))
}

/// `--vmodule`'s `pattern=N,...` (component-base's VModuleConfiguration; empty items skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VModuleList(pub Vec<VModule>);

pub fn vmodule(value: &str) -> Result<VModuleList, String> {
    let mut items = Vec::new();
    for item in value.split(',').filter(|i| !i.is_empty()) {
        let parts: Vec<&str> = item.split('=').collect();
        let [pattern, n] = parts[..] else {
            return Err(format!("{item:?} does not have the pattern=N format"));
        };
        if pattern.is_empty() || n.is_empty() {
            return Err(format!("{item:?} does not have the pattern=N format"));
        }
        items.push(VModule {
            pattern: pattern.to_owned(),
            verbosity: level(n).map_err(|e| format!("parsing verbosity in {item:?}: {e}"))?,
        });
    }
    Ok(VModuleList(items))
}

/// A Kubernetes resource quantity as a whole number (`512`, `1k`, `2Ki`, `3M`, `5Mi`, `1e3`,
/// `0.5Ki`), rounded up like `Quantity.Value()`.
pub fn quantity(value: &str) -> Result<i64, String> {
    let invalid = || {
        format!(
            "{value:?} is not a quantity: use bytes (512), multiples of 1000 (1k, 3M, 4G) or of 1024 (2Ki, 5Mi, 6Gi)"
        )
    };
    let number_len = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(number_len);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            let e: i32 = exponent[1..].parse().map_err(|_| invalid())?;
            10f64.powi(e)
        }
        _ => return Err(invalid()),
    };
    let bytes = (number * factor).ceil();
    if !bytes.is_finite() || bytes.abs() > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as i64)
}

/// A listen address as controller-runtime and Go's `net.Listen` take it: `:PORT`, `HOST:PORT`
/// (an IP, `[IPv6]`, or a name, resolved now); a wildcard host listens on every address family.
pub fn listen_address(value: &str) -> Result<ListenAddress, String> {
    let invalid = || format!("{value:?} is not an address: use HOST:PORT or :PORT");
    let (host, port) = value.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Ok(ListenAddress::Wildcard(port));
    }
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => ip,
        // A name: Go listens on its first address, IPv4 first.
        Err(_) => {
            let addrs: Vec<SocketAddr> = (host, port)
                .to_socket_addrs()
                .map_err(|e| format!("{value:?}: cannot resolve {host:?}: {e}"))?
                .collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .map(SocketAddr::ip)
                .ok_or_else(invalid)?
        }
    };
    Ok(listen_on(ip, port))
}

/// `ip:port`, a wildcard when `ip` is unspecified (`0.0.0.0`, `::`), as Go listens.
pub fn listen_on(ip: IpAddr, port: u16) -> ListenAddress {
    if ip.is_unspecified() {
        ListenAddress::Wildcard(port)
    } else {
        ListenAddress::Ip(SocketAddr::new(ip, port))
    }
}
