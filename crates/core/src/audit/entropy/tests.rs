//! The id-strength tests' own tests: known-weak and known-strong id sets.

use super::*;

fn random_ids(count: usize, bytes: usize, encode: impl Fn(&[u8]) -> String) -> Vec<String> {
    (0..count)
        .map(|_| {
            let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
            encode(&raw)
        })
        .collect()
}

fn hex(raw: &[u8]) -> String {
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

const NOW: i64 = 1_800_000_000;

/// 128-bit random ids score close to 128 bits, in hex and in base64; FIPS passes.
#[test]
fn random_ids_score_near_their_length() {
    let ids = random_ids(1000, 16, hex);
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    assert_eq!(analysis.encoding, Encoding::Hex);
    assert_eq!(analysis.bit_positions, 128);
    assert!(analysis.effective_bits >= 124, "{analysis:?}");
    assert!(analysis.pattern.is_none());
    assert_eq!(analysis.fips.len(), 4);
    assert!(
        analysis.fips.iter().all(|f| f.passed * 10 >= f.blocks * 8),
        "{:?}",
        analysis.fips
    );
    assert!(analysis.serial_correlation.abs() < 0.05);

    use base64::Engine;
    let ids = random_ids(1000, 16, |raw| {
        base64::prelude::BASE64_URL_SAFE_NO_PAD.encode(raw)
    });
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    assert_eq!(analysis.encoding, Encoding::Base64);
    // 22 characters carry 132 bits; the last 4 are always zero.
    assert_eq!((analysis.bit_positions, analysis.constant_bits), (132, 4));
    assert!(analysis.effective_bits >= 124, "{analysis:?}");
    assert!(analysis.entropy_bits() >= 124.0);
}

/// Ids from known generators read at their true strength, in their own alphabets, with
/// the bit-level tests consistent with the verdict: PHP 8's default (26 characters of
/// 0-9a-v, 130 bits) passes FIPS; Django's 32 characters of a-z0-9 (165 bits) are judged
/// character by character, with no bit-level test that its uneven bits would fail.
#[test]
fn known_alphabets_read_at_their_strength() {
    let draw = |alphabet: &str, length: usize| -> Vec<String> {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..1000)
            .map(|_| {
                (0..length)
                    .map(|_| chars[rand::random_range(0..chars.len())])
                    .collect()
            })
            .collect()
    };
    let php = analyse(&draw(KNOWN_ALPHABETS[0], 26), DEFAULT_ALPHA, NOW);
    assert_eq!(
        php.encoding,
        Encoding::Alphabet(KNOWN_ALPHABETS[0].to_owned())
    );
    assert_eq!(php.bit_positions, 130);
    assert!((124.0..=130.0).contains(&php.entropy_bits()), "{php:?}");
    assert!(
        php.fips.iter().all(|f| f.passed * 10 >= f.blocks * 8),
        "{:?}",
        php.fips
    );
    assert!(
        php.encoding
            .describe()
            .starts_with("PHP's 0-9a-v, 32 characters (5 bits")
    );

    let django = analyse(&draw(KNOWN_ALPHABETS[2], 32), DEFAULT_ALPHA, NOW);
    assert_eq!(
        django.encoding,
        Encoding::Alphabet(KNOWN_ALPHABETS[2].to_owned())
    );
    let true_bits = 32.0 * 36f64.log2();
    assert!(
        (true_bits - 6.0..=true_bits).contains(&django.entropy_bits()),
        "{} of {true_bits}",
        django.entropy_bits()
    );
    assert!(django.fips.is_empty() && django.effective_bits == 0);
    assert!(!django.whole_bits());
}

/// A counter collected a few at a time (out of order) is still found.
#[test]
fn a_shuffled_counter_is_found() {
    let mut ids: Vec<String> = (5000..6000).map(|n: u32| (n * 3).to_string()).collect();
    for chunk in ids.chunks_mut(8) {
        chunk.reverse();
    }
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    assert_eq!(analysis.pattern, Some(Pattern::Sequential { step: 3 }));
}

/// A counter scores near zero and is named as sequential, in decimal and in hex.
#[test]
fn a_counter_scores_near_zero() {
    let ids: Vec<String> = (1000..2000).map(|n: u32| n.to_string()).collect();
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    assert!(analysis.effective_bits <= 2, "{analysis:?}");
    assert_eq!(analysis.pattern, Some(Pattern::Sequential { step: 1 }));
    assert_eq!(analysis.entropy_bits(), 0.0);

    let ids: Vec<String> = (0..1000u64)
        .map(|n| format!("{:016x}", 0xabc000 + n * 7))
        .collect();
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    assert_eq!(analysis.pattern, Some(Pattern::Sequential { step: 7 }));
    assert!(analysis.effective_bits <= 2, "{analysis:?}");
}

/// A timestamp with a short random tail is found as such, and scores what the tail holds.
#[test]
fn timestamps_are_found() {
    let ids: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "{}{:04}",
                (NOW * 1000 + i * 3),
                rand::random::<u16>() % 10_000
            )
        })
        .collect();
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    // (Milliseconds followed by random digits also read as microseconds that go forward.)
    assert!(
        matches!(analysis.pattern, Some(Pattern::Timestamp { .. })),
        "{:?}",
        analysis.pattern
    );
    let seconds: Vec<String> = (0..1000).map(|i| (NOW + i / 10).to_string()).collect();
    assert_eq!(
        analyse(&seconds, DEFAULT_ALPHA, NOW).pattern,
        Some(Pattern::Timestamp { unit: "seconds" })
    );
    assert_eq!(analysis.entropy_bits(), 0.0);
}

/// Short random ids are measured as short: 32 random bits score about 32.
#[test]
fn short_ids_score_what_they_hold() {
    let ids = random_ids(1000, 4, hex);
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    assert!((28..=32).contains(&analysis.effective_bits), "{analysis:?}");
    assert!(analysis.entropy_bits() < MIN_BITS as f64);
    let few = analyse(&ids[..500], DEFAULT_ALPHA, NOW);
    assert!(
        few.fips.is_empty(),
        "fewer than 20,000 varying bits: no FIPS block"
    );
}

/// Random ids over a 62-character alphabet are credited by the character-level tests.
#[test]
fn other_alphabets_are_credited_by_character() {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy!";
    let ids: Vec<String> = (0..1000)
        .map(|_| {
            (0..20)
                .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    let analysis = analyse(&ids, DEFAULT_ALPHA, NOW);
    assert!(matches!(analysis.encoding, Encoding::Alphabet(_)));
    assert!(analysis.uniform_characters >= 19, "{analysis:?}");
    assert!(analysis.entropy_bits() > 110.0, "{analysis:?}");
}

/// The FIPS tests pass random blocks and fail a biased one.
#[test]
fn fips_tests_tell_random_from_biased() {
    let random: Vec<bool> = (0..FIPS_BLOCK).map(|_| rand::random::<bool>()).collect();
    assert!(fips_monobit(&random) && fips_poker(&random) && fips_long_run(&random));
    let biased: Vec<bool> = (0..FIPS_BLOCK).map(|i| i % 3 != 0).collect();
    assert!(!fips_monobit(&biased));
    let mut long = random.clone();
    long[100..130].iter_mut().for_each(|b| *b = true);
    assert!(!fips_long_run(&long));
}
