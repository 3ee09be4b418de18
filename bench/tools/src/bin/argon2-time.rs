//! `argon2-time [--runs 20]`
//!
//! The time of one argon2id password verification with Portcullis's
//! parameters (m = 19456 KiB, t = 2, p = 1), computed the way the server does
//! it: `hash_password_into_with_memory` into a reused block buffer, then a
//! comparison with the stored hash. Prints the median, min and max over
//! `--runs` verifications (after one untimed warm-up) in milliseconds.

use std::process::ExitCode;
use std::time::Instant;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use portcullis_bench::{Args, median};

const USAGE: &str = "argon2-time [--runs N]";
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("argon2-time: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse(USAGE)?;
    let runs: usize = args.or("runs", 20)?;
    if runs == 0 {
        return Err("--runs must be above zero".into());
    }
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(|e| e.to_string())?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut blocks = vec![Block::default(); MEMORY_KIB as usize];
    let password = b"correct horse battery staple";
    let salt = b"a 16-byte salt!!";
    let mut stored = [0u8; 32];
    argon2
        .hash_password_into_with_memory(password, salt, &mut stored, &mut blocks)
        .map_err(|e| e.to_string())?;

    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut computed = [0u8; 32];
        argon2
            .hash_password_into_with_memory(password, salt, &mut computed, &mut blocks)
            .map_err(|e| e.to_string())?;
        if computed != stored {
            return Err("a verification did not match".into());
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let max = samples.iter().copied().fold(0.0, f64::max);
    let median = median(&mut samples).ok_or("no samples")?;
    println!("median_ms={median:.2} min_ms={min:.2} max_ms={max:.2} runs={runs}");
    Ok(())
}
