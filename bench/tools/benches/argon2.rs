//! One argon2id verification at the parameters Portcullis uses
//! (m = 19456 KiB, t = 2, p = 1) by each candidate implementation:
//! `cargo bench -p portcullis-bench --bench argon2`.
//!
//! - `fresh_buffer` / `reused_buffer`: the `argon2` crate (RustCrypto), which
//!   Portcullis uses, allocating its 19 MiB of blocks per call or reusing one
//!   buffer as Portcullis's hashing threads do;
//! - `c_reference`: the C reference implementation, what npm's `argon2`
//!   wraps, built with its SIMD code for this CPU;
//! - `rust_argon2`: the `rust-argon2` crate.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use criterion::{Criterion, criterion_group, criterion_main};

fn argon2id(c: &mut Criterion) {
    let params = Params::new(19 * 1024, 2, 1, Some(32)).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let (password, salt) = (b"correct horse battery staple", [3u8; 16]);
    let mut out = [0u8; 32];

    // The candidates must agree before their times mean anything.
    argon2
        .hash_password_into(password, &salt, &mut out)
        .unwrap();
    assert_eq!(out.to_vec(), c_reference(password, &salt));
    assert_eq!(out.to_vec(), rust_argon2(password, &salt));

    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group.sample_size(20);
    group.bench_function("fresh_buffer", |b| {
        b.iter(|| {
            argon2
                .hash_password_into(password, &salt, &mut out)
                .unwrap()
        })
    });
    let mut blocks = vec![Block::default(); params.block_count()];
    group.bench_function("reused_buffer", |b| {
        b.iter(|| {
            argon2
                .hash_password_into_with_memory(password, &salt, &mut out, &mut blocks)
                .unwrap()
        })
    });
    group.bench_function("c_reference", |b| {
        b.iter(|| c_reference(black_box(password), &salt))
    });
    group.bench_function("rust_argon2", |b| {
        b.iter(|| rust_argon2(black_box(password), &salt))
    });
    group.finish();
}

fn c_reference(password: &[u8], salt: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    // SAFETY: every pointer comes with its slice's true length and outlives
    // the call; the C function writes exactly `out.len()` bytes.
    #[allow(unsafe_code)]
    let status = unsafe {
        argon2_sys::argon2id_hash_raw(
            2,
            19 * 1024,
            1,
            password.as_ptr().cast(),
            password.len(),
            salt.as_ptr().cast(),
            salt.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    assert_eq!(status, 0, "argon2id_hash_raw failed");
    out
}

fn rust_argon2(password: &[u8], salt: &[u8]) -> Vec<u8> {
    let config = rust_argon2::Config {
        variant: rust_argon2::Variant::Argon2id,
        version: rust_argon2::Version::Version13,
        mem_cost: 19 * 1024,
        time_cost: 2,
        lanes: 1,
        hash_length: 32,
        ..rust_argon2::Config::default()
    };
    rust_argon2::hash_raw(password, salt, &config).unwrap()
}

criterion_group!(benches, argon2id);
criterion_main!(benches);
