//! SIGTERM and SIGINT drain the `pageshare` binary (`docs/OPERATIONS.md`): a request in flight
//! gets its whole answer, new connections are refused at once, the pool is closed, and the
//! process exits 0.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use pageshare::sandbox::{AppTarget, Sandbox};
use serde_json::{Value, json};

use crate::helpers::{APP_KEY, EDITOR, PAGE_ID, add_sample_page};
use crate::logs::{start_binary, wait_for};

/// How long the simulated Confluence takes to answer once the signal is on its way.
const SLOW: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_across_sigterm_or_sigint_completes_and_the_process_exits_0() {
    for signal in ["TERM", "INT"] {
        drains_on(signal).await;
    }
}

/// The sample page of the sandbox's site `acme`, installed on the binary at `address`, shared
/// without a password; the share's URL.
pub async fn installed_share(sandbox: &Sandbox, http: &reqwest::Client, address: &str) -> String {
    let target = AppTarget {
        base_url: address.to_owned(),
        key: APP_KEY.into(),
    };
    sandbox.add_site("acme");
    let site = add_sample_page(sandbox, "acme");
    let installed = sandbox.install(&target, &site).await.unwrap();
    assert_eq!(installed.status(), 204);
    let share: Value = http
        .post(format!("{address}/api/shares"))
        .header(
            "Authorization",
            format!("JWT {}", sandbox.context_token(&site, EDITOR)),
        )
        .json(&json!({"contentId": PAGE_ID}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    share["url"].as_str().unwrap().to_owned()
}

/// `kill -SIGNAL` to the process.
pub fn send_signal(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// How the process exited; it must within 10 s (`what` says which run did not).
pub async fn exit_within_10_seconds(
    child: &mut std::process::Child,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(Instant::now() < deadline, "{what}: still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn drains_on(signal: &str) {
    let sandbox = Sandbox::start(APP_KEY).unwrap();
    let (mut running, address) = start_binary(&sandbox, &[("RUST_LOG", "info")]);
    let http = reqwest::Client::new();
    wait_for(&http, &address).await;
    let url = installed_share(&sandbox, &http, &address).await;
    sandbox.update_site("acme", |s| s.hostile.delay = Some(SLOW));

    // A reader opens the share: the app waits for Confluence.
    let started = Instant::now();
    let reader = http.clone();
    let in_flight = tokio::spawn(async move {
        let response = reader.get(&url).send().await.expect("an answer, not a cut");
        let status = response.status();
        (status, response.text().await.expect("the whole body"))
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!in_flight.is_finished(), "the request is still in flight");
    send_signal(&running.child, signal);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let port = address.rsplit_once(':').unwrap().1;
    assert!(
        TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "SIG{signal}: a new connection is refused while the request drains"
    );
    assert!(!in_flight.is_finished(), "the request is still in flight");

    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "SIG{signal}: {body}");
    assert!(body.contains("Onboarding"), "the page itself");
    assert!(started.elapsed() >= SLOW);

    let exit = exit_within_10_seconds(&mut running.child, &format!("SIG{signal}")).await;
    assert_eq!(exit.code(), Some(0), "SIG{signal}");
    let log = std::fs::read_to_string(&running.log).unwrap();
    for said in [
        format!("signal=\"SIG{signal}\""),
        "closing the database pool".to_owned(),
        "stopped".to_owned(),
    ] {
        assert!(log.contains(&said), "SIG{signal}: {said} in\n{log}");
    }
}
