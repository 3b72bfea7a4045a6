//! The reference server on a given address, for measuring the load
//! generator against a server in its own process before `rtbench server`
//! exists (`cargo run --release -p rtbench-loadgen --example serve -- 127.0.0.1:3000`).

use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("serving on http://{addr}");
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        t.cancel();
    });
    server::run(listener, server::Config::default(), token).await?;
    Ok(())
}
