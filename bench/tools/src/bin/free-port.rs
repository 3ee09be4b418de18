//! `free-port [--count N]`: prints N distinct free TCP ports on 127.0.0.1,
//! space-separated. They are held together while chosen, so they differ;
//! another process could still take one before the caller binds it.

use std::net::TcpListener;
use std::process::ExitCode;

use portcullis_bench::Args;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("free-port: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let count: usize = Args::parse("free-port [--count N]")?.or("count", 1)?;
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot bind: {e}"))?;
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port().to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    println!("{}", ports.join(" "));
    Ok(())
}
