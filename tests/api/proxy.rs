//! A TCP proxy that can stop forwarding without closing anything, as a NAT that dropped its
//! mapping or a failed-over network does (connections stay open, bytes stop flowing), or cut every
//! connection and refuse new ones, as a database that went away does, or refuse only new ones, as
//! a database at its connection limit does; and come back.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Open,
    Frozen,
    Cut,
    /// Connections open stay open; new ones are refused.
    Refusing,
}

pub struct FreezableProxy {
    pub address: SocketAddr,
    flow: watch::Sender<Flow>,
}

impl FreezableProxy {
    /// Forward every connection made to the proxy to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (flow, _) = watch::channel(Flow::Open);
        let state = flow.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if matches!(*state.borrow(), Flow::Cut | Flow::Refusing) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, state.subscribe()));
                tokio::spawn(pump(server_read, client_write, state.subscribe()));
            }
        });
        Self { address, flow }
    }

    /// Stop forwarding: bytes already read are held, nothing is closed.
    pub fn freeze(&self) {
        self.flow.send_replace(Flow::Frozen);
    }

    /// Forward again, held bytes first; after [`Self::cut`] or [`Self::refuse_new`], accept
    /// new connections again: the upstream is back.
    pub fn thaw(&self) {
        self.flow.send_replace(Flow::Open);
    }

    /// Close every connection and refuse new ones: the upstream is gone.
    pub fn cut(&self) {
        self.flow.send_replace(Flow::Cut);
    }

    /// Refuse new connections; those open keep flowing.
    pub fn refuse_new(&self) {
        self.flow.send_replace(Flow::Refusing);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flow: watch::Receiver<Flow>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            },
            _ = flow.wait_for(|flow| *flow == Flow::Cut) => return,
        };
        match flow.wait_for(|flow| *flow != Flow::Frozen).await {
            Ok(flow) if matches!(*flow, Flow::Open | Flow::Refusing) => {}
            _ => return,
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
