//! A TCP proxy that can stop forwarding without closing anything, as a NAT that dropped its
//! mapping or a failed-over network does: connections stay open, bytes stop flowing.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct FreezableProxy {
    pub address: SocketAddr,
    frozen: watch::Sender<bool>,
}

impl FreezableProxy {
    /// Forward every connection made to the proxy to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (frozen, _) = watch::channel(false);
        let state = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, state.subscribe()));
                tokio::spawn(pump(server_read, client_write, state.subscribe()));
            }
        });
        Self { address, frozen }
    }

    /// Stop forwarding: bytes already read are held, nothing is closed.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Forward again, held bytes first.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|frozen| !frozen).await.is_err() {
            return;
        }
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if frozen.wait_for(|frozen| !frozen).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
