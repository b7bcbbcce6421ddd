//! The measurement behind satchel-cookie's cipher: AES-256-GCM-SIV against
//! XChaCha20-Poly1305 and AES-256-GCM (all RustCrypto) sealing session-sized records.
//! `cargo bench -p satchel-cookie --bench aead_choice`.
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use aes_gcm::Aes256Gcm;
use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::Aes256GcmSiv;
use chacha20poly1305::XChaCha20Poly1305;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 3] = [100, 1024, 3 * 1024];
const AAD: &[u8] = b"satchel-cookie\0id\0\x01\x01";

fn bench_cipher<C: Aead>(c: &mut Criterion, name: &str, cipher: &C) {
    let mut group = c.benchmark_group(format!("aead/{name}"));
    for size in SIZES {
        let msg = vec![b'x'; size];
        let nonce = aes_gcm_siv::aead::generic_array::GenericArray::default();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encrypt", size), &msg, |b, m| {
            b.iter(|| {
                cipher
                    .encrypt(
                        &nonce,
                        Payload {
                            msg: black_box(m),
                            aad: AAD,
                        },
                    )
                    .expect("encrypts")
            })
        });
    }
    group.finish();
}

fn choice(c: &mut Criterion) {
    let key = [9u8; 32];
    bench_cipher(c, "aes-256-gcm-siv", &Aes256GcmSiv::new(&key.into()));
    bench_cipher(
        c,
        "xchacha20-poly1305",
        &XChaCha20Poly1305::new(&key.into()),
    );
    bench_cipher(c, "aes-256-gcm", &Aes256Gcm::new(&key.into()));
}

criterion_group!(benches, choice);
criterion_main!(benches);
