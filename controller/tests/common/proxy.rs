//! A TCP proxy in front of the API server that a test can cut or make hang: the controller
//! behind it loses its connections (watches included), or keeps them open and gets no answer,
//! while the test keeps talking to the API server directly.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    /// Connections are closed and new ones refused.
    Cut,
    /// Connections stay open (new ones are accepted) but nothing is forwarded either way: an
    /// API server that accepts connections and answers nothing.
    Hang,
}

pub struct Proxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    accept: tokio::task::JoinHandle<()>,
}

/// Holds `sockets` open, unread, until the proxy leaves [`Mode::Hang`].
async fn hold<T>(sockets: T, mut mode: watch::Receiver<Mode>) {
    let _ = mode.wait_for(|m| *m != Mode::Hang).await;
    drop(sockets);
}

impl Proxy {
    /// Forwards `127.0.0.1:<port>` to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, modes) = watch::channel(Mode::Forward);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut modes = modes.clone();
                let now = *modes.borrow_and_update();
                match now {
                    // Dropped: the client sees the connection closed.
                    Mode::Cut => continue,
                    Mode::Hang => {
                        tokio::spawn(hold(inbound, modes));
                        continue;
                    }
                    Mode::Forward => {}
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let hang = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
                        changed = modes.wait_for(|m| *m != Mode::Forward) => {
                            changed.is_ok_and(|m| *m == Mode::Hang)
                        }
                    };
                    if hang {
                        hold((inbound, outbound), modes).await;
                    }
                });
            }
        });
        Proxy { port, mode, accept }
    }

    /// Closes every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// Stops forwarding but keeps every connection open and accepts new ones, answering
    /// nothing, until [`Proxy::restore`] (which closes them).
    pub fn hang(&self) {
        self.mode.send_replace(Mode::Hang);
    }

    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
