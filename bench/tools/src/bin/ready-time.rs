//! `ready-time --addr 127.0.0.1:PORT [--timeout-secs 60] -- COMMAND ARGS...`
//!
//! Spawns COMMAND and polls `GET /readyz` on ADDR about every millisecond
//! (a fresh TCP connection and a minimal HTTP/1.1 request each time), then
//! prints the milliseconds from spawn to the first 200. The process is then
//! stopped with SIGTERM (SIGKILL if it lingers) and waited for, so the next
//! run starts from a closed database.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use portcullis_bench::Args;

const USAGE: &str = "ready-time --addr HOST:PORT [--timeout-secs N] -- COMMAND ARGS...";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ready-time: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse(USAGE)?;
    let addr: SocketAddr = args.required("addr")?;
    let timeout = Duration::from_secs(args.or("timeout-secs", 60)?);
    let (program, program_args) = args
        .rest
        .split_first()
        .ok_or_else(|| format!("no command given\n{USAGE}"))?;
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");

    let started = Instant::now();
    let mut child = Command::new(program)
        .args(program_args)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let outcome = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Err(format!("{program} exited before it was ready: {status}"));
        }
        if ready(addr, &request) {
            break Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            break Err(format!("not ready after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    stop(&mut child);
    let elapsed = outcome?;
    println!("ready_ms={:.1}", elapsed.as_secs_f64() * 1000.0);
    Ok(())
}

/// Whether `GET /readyz` answers 200 now.
fn ready(addr: SocketAddr, request: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_nodelay(true);
    if stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .is_err()
        || stream.write_all(request.as_bytes()).is_err()
    {
        return false;
    }
    // The status line is all we need: "HTTP/1.1 200 ".
    let mut head = [0u8; 12];
    let mut filled = 0;
    while filled < head.len() {
        match stream.read(&mut head[filled..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => filled += n,
        }
    }
    head.starts_with(b"HTTP/1.") && &head[8..12] == b" 200"
}

/// SIGTERM, a few seconds' grace, then SIGKILL; always waits.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
