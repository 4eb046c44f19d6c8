//! The `apiary` binary itself: settings errors are clear, and it serves and stops on SIGTERM.

#[path = "support/ports.rs"]
#[allow(dead_code)] // the binary tests use only the passed socket
mod ports;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn apiary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_apiary"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn a_bad_listen_value_fails_with_a_message_naming_the_setting() {
    let output = apiary()
        .env("APIARY_LISTEN", "not-an-address")
        .env("APIARY_DATA_DIR", std::env::temp_dir())
        .output()
        .expect("run apiary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("APIARY_LISTEN"), "{stderr}");
    assert!(stderr.contains("not-an-address"), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1:3000"),
        "the fix shows an example: {stderr}"
    );
}

#[test]
fn a_passed_socket_on_a_public_address_needs_sign_in_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = ports::PassedSocket::bind_to("0.0.0.0:0");
    let mut command = apiary();
    command.env("APIARY_DATA_DIR", dir.path());
    socket.pass_to(&mut command);
    let output = command.output().expect("run apiary");
    assert!(
        !output.status.success(),
        "a socket from the service manager must not serve other machines without sign-in"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("LISTEN_FDS"),
        "names where the socket came from: {stderr}"
    );
    assert!(
        stderr.contains("APIARY_OIDC_ISSUER"),
        "names the fix: {stderr}"
    );
}

#[test]
fn a_public_bind_needs_sign_in_and_sign_in_needs_a_public_url() {
    let output = apiary()
        .env("APIARY_LISTEN", "0.0.0.0:3000")
        .env("APIARY_DATA_DIR", std::env::temp_dir())
        .output()
        .expect("run apiary");
    assert!(
        !output.status.success(),
        "it must not serve other machines without authentication"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("APIARY_OIDC_ISSUER"), "{stderr}");

    let output = apiary()
        .env("APIARY_OIDC_ISSUER", "https://idp.example.com")
        .env("APIARY_LISTEN", "0.0.0.0:3000")
        .env("APIARY_DATA_DIR", std::env::temp_dir())
        .output()
        .expect("run apiary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("APIARY_PUBLIC_URL"), "{stderr}");
    assert!(
        stderr.contains("/auth/callback"),
        "the fix explains why: {stderr}"
    );
}

#[test]
fn it_serves_health_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = ports::PassedSocket::bind();
    let port = socket.port;
    let mut command = apiary();
    command
        .env("APIARY_DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    socket.pass_to(&mut command);
    let mut child = command.spawn().expect("start apiary");
    drop(socket);

    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        match http_get(port, "/healthz") {
            Ok(body) => break body,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => panic!("apiary did not answer /healthz: {error}"),
        }
    };
    assert!(body.ends_with("ok"), "{body}");
    assert!(
        dir.path().join("apiary.db").exists(),
        "the SQLite file was created in APIARY_DATA_DIR"
    );

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "apiary did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a graceful stop exits 0: {status}");
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}
