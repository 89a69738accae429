//! How guessable a server's session ids are, from a sample of fresh ones: the tokens turned
//! into bits (by their alphabet), each bit position and each character position tested across
//! the sample, FIPS 140-2's four tests on the bits that vary, a serial correlation, and the
//! patterns people get wrong (counters, timestamps, short ids). In the manner of Burp
//! Sequencer: the *effective entropy* is the number of bit positions that pass every test at
//! the significance level; p-values come from statrs.

use std::collections::BTreeSet;

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// The significance level of each test: a position fails when a test's p-value is below it.
/// At 0.1 %, a truly random 128-bit id loses a quarter of a bit to chance on average.
pub const DEFAULT_ALPHA: f64 = 0.001;

/// OWASP's floor for a session id's entropy.
pub const MIN_BITS: usize = 64;

/// Bits per FIPS 140-2 block.
const FIPS_BLOCK: usize = 20_000;

/// The alphabets known generators write ids in, narrowest first, each in its generator's
/// order (a character's value is its place): PHP's `session.sid_bits_per_character` 5
/// (`0-9a-v`, PHP 8's default: 26 characters, 130 bits), RFC 4648 base32, Django's
/// `get_random_string` (`a-z0-9`, 36 symbols: not whole bits) and PHP's 6 (`0-9a-zA-Z,-`).
const KNOWN_ALPHABETS: [&str; 4] = [
    "0123456789abcdefghijklmnopqrstuv",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,-",
];

/// How the tokens are written, and so how they become bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal digits: 4 bits each.
    Hex,
    /// Base64 (standard or URL-safe; padding dropped): 6 bits each.
    Base64,
    /// Decimal numbers, read as one binary number each.
    Decimal,
    /// Any other alphabet: each character's place in it, in the fewest bits that hold it.
    Alphabet(String),
}

impl Encoding {
    /// A short description: "base64 (6 bits a character)".
    pub fn describe(&self) -> String {
        match self {
            Self::Hex => "hexadecimal (4 bits a character)".to_owned(),
            Self::Base64 => "base64 (6 bits a character)".to_owned(),
            Self::Decimal => "decimal numbers (read as binary)".to_owned(),
            Self::Alphabet(chars) => {
                let size = chars.chars().count();
                let known = match KNOWN_ALPHABETS.iter().position(|a| a == chars) {
                    Some(0) => "PHP's 0-9a-v, ",
                    Some(1) => "base32, ",
                    Some(2) => "a-z0-9 (Django's), ",
                    Some(3) => "PHP's 0-9a-zA-Z,-, ",
                    _ => "",
                };
                if size.is_power_of_two() {
                    format!(
                        "{known}{size} characters ({} bits a character)",
                        bits_for(size)
                    )
                } else {
                    format!(
                        "{known}{size} characters ({:.2} bits a character, not whole bits: \
                         judged character by character)",
                        (size as f64).log2()
                    )
                }
            }
        }
    }
}

/// A pattern that makes ids guessable whatever their length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Pattern {
    /// Each id is the previous one plus a constant (or nearly: mostly small steps up).
    Sequential {
        /// The most common step.
        step: i128,
    },
    /// The id is (or starts with) the current time.
    Timestamp {
        /// "seconds", "milliseconds" or "microseconds" since 1970.
        unit: &'static str,
    },
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sequential { step } => write!(f, "sequential: each id is the last plus {step}"),
            Self::Timestamp { unit } => write!(f, "the current time in {unit} since 1970"),
        }
    }
}

/// One of FIPS 140-2's tests over the 20,000-bit blocks of the varying bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FipsResult {
    /// "monobit", "poker", "runs" or "long runs".
    pub test: &'static str,
    /// Blocks that passed.
    pub passed: usize,
    /// Blocks tested.
    pub blocks: usize,
}

/// What the sample says about the ids.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// How many ids were analysed.
    pub samples: usize,
    /// The longest id, in characters.
    pub length: usize,
    /// How they are written.
    pub encoding: Encoding,
    /// Bits per id once decoded (including positions that never change).
    pub bit_positions: usize,
    /// Bit positions that never change across the sample (format, padding).
    pub constant_bits: usize,
    /// Bit positions that pass every test: the effective entropy, in bits.
    pub effective_bits: usize,
    /// Character positions whose characters are evenly spread and unrelated to the previous
    /// id's, and the bits they would carry (log2 of the alphabet each).
    pub uniform_characters: usize,
    /// The entropy the character-level tests credit, in bits.
    pub character_bits: f64,
    /// FIPS 140-2 on the varying bits (empty when fewer than 20,000 of them).
    pub fips: Vec<FipsResult>,
    /// Lag-1 correlation of the varying bits' bytes (ent's serial correlation; random ≈ 0).
    pub serial_correlation: f64,
    /// The p-value of that correlation under randomness.
    pub serial_p: f64,
    /// A guessable pattern, if one was found.
    pub pattern: Option<Pattern>,
    /// The significance level used.
    pub alpha: f64,
}

impl Analysis {
    /// The entropy to judge the ids by: the bit-level count, or the character-level one when
    /// the alphabet is not a power of two (where bit positions are uneven by construction).
    pub fn entropy_bits(&self) -> f64 {
        if self.pattern.is_some() {
            return 0.0;
        }
        (self.effective_bits as f64).max(self.character_bits)
    }

    /// Whether each character is a whole number of bits (so the bit-level tests and FIPS
    /// apply): every encoding but an alphabet whose size is not a power of two.
    pub fn whole_bits(&self) -> bool {
        whole_bits(&self.encoding)
    }
}

/// Analyses `tokens` (in the order they were issued) at significance level `alpha`. `now` is
/// the time the sample was taken (Unix seconds), to recognise timestamps.
pub fn analyse(tokens: &[String], alpha: f64, now: i64) -> Analysis {
    let encoding = encoding_of(tokens);
    let rows = to_bits(tokens, &encoding);
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let samples = rows.len();
    let mut constant_bits = 0;
    let mut effective_bits = 0;
    let mut varying: Vec<usize> = Vec::new();
    for position in 0..width {
        let column: Vec<bool> = rows.iter().map(|r| r[position]).collect();
        let ones = column.iter().filter(|b| **b).count();
        if ones == 0 || ones == samples {
            constant_bits += 1;
            continue;
        }
        varying.push(position);
        if monobit_p(&column) >= alpha && runs_p(&column) >= alpha {
            effective_bits += 1;
        }
    }
    let (uniform_characters, character_bits) = character_tests(tokens, alpha);
    let stream: Vec<bool> = rows
        .iter()
        .flat_map(|row| varying.iter().map(move |&p| row[p]))
        .collect();
    let (serial_correlation, serial_p) = serial_correlation(&stream);
    // With an alphabet that is not whole bits (36 symbols in 6 bits), the top bit positions
    // are uneven by construction: no bit-level verdict, only the characters'.
    let (effective_bits, fips_results) = if whole_bits(&encoding) {
        (effective_bits, fips(&stream))
    } else {
        (0, Vec::new())
    };
    Analysis {
        samples,
        length: tokens.iter().map(|t| t.chars().count()).max().unwrap_or(0),
        encoding,
        bit_positions: width,
        constant_bits,
        effective_bits,
        uniform_characters,
        character_bits,
        fips: fips_results,
        serial_correlation,
        serial_p,
        pattern: pattern(tokens, now),
        alpha,
    }
}

/// How `tokens` are written: the narrowest encoding every one of them fits.
fn encoding_of(tokens: &[String]) -> Encoding {
    let all = |f: fn(char) -> bool| tokens.iter().all(|t| !t.is_empty() && t.chars().all(f));
    if all(|c| c.is_ascii_digit()) && tokens.iter().all(|t| t.len() <= 38) {
        return Encoding::Decimal;
    }
    if all(|c| c.is_ascii_hexdigit()) {
        return Encoding::Hex;
    }
    // A known generator's alphabet, when the sample uses nothing outside it (a sizeable sample
    // of random ids uses all of it).
    let used: BTreeSet<char> = tokens
        .iter()
        .flat_map(|t| t.trim_end_matches('=').chars())
        .collect();
    if let Some(known) = KNOWN_ALPHABETS
        .iter()
        .find(|a| used.iter().all(|c| a.contains(*c)))
    {
        return Encoding::Alphabet((*known).to_owned());
    }
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_' | '=');
    if all(base64) {
        return Encoding::Base64;
    }
    let chars: BTreeSet<char> = tokens.iter().flat_map(|t| t.chars()).collect();
    Encoding::Alphabet(chars.into_iter().collect())
}

/// Whether `encoding` writes a whole number of bits a character.
fn whole_bits(encoding: &Encoding) -> bool {
    match encoding {
        Encoding::Alphabet(chars) => chars.chars().count().is_power_of_two(),
        _ => true,
    }
}

fn bits_for(alphabet: usize) -> usize {
    (usize::BITS - alphabet.saturating_sub(1).leading_zeros()) as usize
}

/// Each token as bits, all of one width: numbers right-aligned, other tokens left-aligned
/// (shorter ones padded with zero bits).
fn to_bits(tokens: &[String], encoding: &Encoding) -> Vec<Vec<bool>> {
    let mut rows: Vec<Vec<bool>> = tokens
        .iter()
        .map(|token| match encoding {
            Encoding::Decimal => {
                let value: u128 = token.parse().unwrap_or(0);
                (0..128).rev().map(|bit| value >> bit & 1 == 1).collect()
            }
            Encoding::Hex => token
                .chars()
                .flat_map(|c| {
                    let v = c.to_digit(16).unwrap_or(0);
                    (0..4).rev().map(move |bit| v >> bit & 1 == 1)
                })
                .collect(),
            Encoding::Base64 => token
                .trim_end_matches('=')
                .chars()
                .flat_map(|c| {
                    let v = base64_value(c);
                    (0..6).rev().map(move |bit| v >> bit & 1 == 1)
                })
                .collect(),
            Encoding::Alphabet(chars) => {
                let alphabet: Vec<char> = chars.chars().collect();
                let width = bits_for(alphabet.len());
                token
                    .trim_end_matches('=')
                    .chars()
                    .flat_map(|c| {
                        let v = alphabet.iter().position(|a| *a == c).unwrap_or(0);
                        (0..width).rev().map(move |bit| v >> bit & 1 == 1)
                    })
                    .collect()
            }
        })
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    for row in &mut rows {
        row.resize(width, false);
    }
    if *encoding == Encoding::Decimal {
        // Drop the leading bits no number reaches.
        let first = (0..width)
            .find(|&p| rows.iter().any(|r| r[p]))
            .unwrap_or(width);
        for row in &mut rows {
            row.drain(..first);
        }
    }
    rows
}

fn base64_value(c: char) -> u32 {
    match c {
        'A'..='Z' => c as u32 - 'A' as u32,
        'a'..='z' => c as u32 - 'a' as u32 + 26,
        '0'..='9' => c as u32 - '0' as u32 + 52,
        '+' | '-' => 62,
        _ => 63,
    }
}

/// Two-sided p-value of a standard normal statistic.
fn normal_p(z: f64) -> f64 {
    if !z.is_finite() {
        return 0.0;
    }
    (2.0 * Normal::standard().sf(z.abs())).min(1.0)
}

/// Are ones and zeros equally likely at this position?
fn monobit_p(column: &[bool]) -> f64 {
    let n = column.len() as f64;
    let ones = column.iter().filter(|b| **b).count() as f64;
    normal_p((2.0 * ones - n) / n.sqrt())
}

/// Wald–Wolfowitz runs test: as many runs of equal bits as chance gives (a counter's low bit
/// has too many, its high bits too few).
fn runs_p(column: &[bool]) -> f64 {
    let n = column.len() as f64;
    let n1 = column.iter().filter(|b| **b).count() as f64;
    let n0 = n - n1;
    if n1 == 0.0 || n0 == 0.0 || n < 3.0 {
        return 0.0;
    }
    let runs = 1 + column.windows(2).filter(|w| w[0] != w[1]).count();
    let mean = 2.0 * n0 * n1 / n + 1.0;
    let variance = (mean - 1.0) * (mean - 2.0) / (n - 1.0);
    if variance <= 0.0 {
        return 0.0;
    }
    normal_p((runs as f64 - mean) / variance.sqrt())
}

/// Per character position: a chi-squared test of the characters against an even spread over
/// the alphabet seen anywhere, and a lag-1 correlation test of each character's place in the
/// alphabet with the previous id's. Returns the positions that pass both and the bits they
/// carry.
fn character_tests(tokens: &[String], alpha: f64) -> (usize, f64) {
    let alphabet: Vec<char> = tokens
        .iter()
        .flat_map(|t| t.chars())
        .collect::<BTreeSet<char>>()
        .into_iter()
        .collect();
    if alphabet.len() < 2 || tokens.len() < 2 {
        return (0, 0.0);
    }
    let per_char = (alphabet.len() as f64).log2();
    let rows: Vec<Vec<usize>> = tokens
        .iter()
        .map(|t| {
            t.chars()
                .map(|c| alphabet.binary_search(&c).unwrap_or(0))
                .collect()
        })
        .collect();
    let length = rows.iter().map(Vec::len).min().unwrap_or(0);
    let Ok(chi) = ChiSquared::new((alphabet.len() - 1) as f64) else {
        return (0, 0.0);
    };
    let mut passing = 0;
    for position in 0..length {
        let column: Vec<usize> = rows.iter().map(|r| r[position]).collect();
        let mut counts = vec![0usize; alphabet.len()];
        for &v in &column {
            counts[v] += 1;
        }
        let expected = column.len() as f64 / alphabet.len() as f64;
        let statistic: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        let spread_p = chi.sf(statistic);
        let values: Vec<f64> = column.iter().map(|&v| v as f64).collect();
        let (_, lag_p) = lag1_correlation(&values);
        if spread_p >= alpha && lag_p >= alpha {
            passing += 1;
        }
    }
    (passing, passing as f64 * per_char)
}

/// The lag-1 correlation of a series and its p-value under independence (r·√n is about
/// standard normal).
fn lag1_correlation(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n < 3 {
        return (0.0, 1.0);
    }
    let (a, b) = (&values[..n - 1], &values[1..]);
    let mean_a = a.iter().sum::<f64>() / a.len() as f64;
    let mean_b = b.iter().sum::<f64>() / b.len() as f64;
    let mut cov = 0.0;
    let mut var_a = 0.0;
    let mut var_b = 0.0;
    for (x, y) in a.iter().zip(b) {
        cov += (x - mean_a) * (y - mean_b);
        var_a += (x - mean_a).powi(2);
        var_b += (y - mean_b).powi(2);
    }
    if var_a == 0.0 || var_b == 0.0 {
        // A constant series: perfectly predictable.
        return (1.0, 0.0);
    }
    let r = cov / (var_a * var_b).sqrt();
    (r, normal_p(r * (a.len() as f64).sqrt()))
}

/// ent's serial correlation over the stream's bytes.
fn serial_correlation(stream: &[bool]) -> (f64, f64) {
    let bytes: Vec<f64> = stream
        .chunks_exact(8)
        .map(|bits| bits.iter().fold(0u32, |acc, b| acc << 1 | u32::from(*b)) as f64)
        .collect();
    if bytes.len() < 3 {
        return (0.0, 1.0);
    }
    lag1_correlation(&bytes)
}

/// FIPS 140-2's monobit, poker, runs and long-run tests on each 20,000-bit block.
fn fips(stream: &[bool]) -> Vec<FipsResult> {
    let blocks: Vec<&[bool]> = stream.chunks_exact(FIPS_BLOCK).collect();
    if blocks.is_empty() {
        return Vec::new();
    }
    let count = |test: fn(&[bool]) -> bool| blocks.iter().filter(|b| test(b)).count();
    vec![
        FipsResult {
            test: "monobit",
            passed: count(fips_monobit),
            blocks: blocks.len(),
        },
        FipsResult {
            test: "poker",
            passed: count(fips_poker),
            blocks: blocks.len(),
        },
        FipsResult {
            test: "runs",
            passed: count(fips_runs),
            blocks: blocks.len(),
        },
        FipsResult {
            test: "long runs",
            passed: count(fips_long_run),
            blocks: blocks.len(),
        },
    ]
}

fn fips_monobit(block: &[bool]) -> bool {
    let ones = block.iter().filter(|b| **b).count();
    9725 < ones && ones < 10275
}

fn fips_poker(block: &[bool]) -> bool {
    let mut counts = [0u64; 16];
    for nibble in block.chunks_exact(4) {
        let v = nibble
            .iter()
            .fold(0usize, |acc, b| acc << 1 | usize::from(*b));
        counts[v] += 1;
    }
    let sum: u64 = counts.iter().map(|c| c * c).sum();
    let x = 16.0 / 5000.0 * sum as f64 - 5000.0;
    2.16 < x && x < 46.17
}

/// Run lengths of each bit value: 1, 2, 3, 4, 5 and 6 or more.
fn run_lengths(block: &[bool]) -> ([usize; 6], [usize; 6], usize) {
    let mut zeros = [0usize; 6];
    let mut ones = [0usize; 6];
    let mut longest = 0;
    let mut i = 0;
    while i < block.len() {
        let bit = block[i];
        let start = i;
        while i < block.len() && block[i] == bit {
            i += 1;
        }
        let length = i - start;
        longest = longest.max(length);
        let slot = length.min(6) - 1;
        if bit {
            ones[slot] += 1;
        } else {
            zeros[slot] += 1;
        }
    }
    (zeros, ones, longest)
}

fn fips_runs(block: &[bool]) -> bool {
    const BOUNDS: [(usize, usize); 6] = [
        (2315, 2685),
        (1114, 1386),
        (527, 723),
        (240, 384),
        (103, 209),
        (103, 209),
    ];
    let (zeros, ones, _) = run_lengths(block);
    BOUNDS.iter().enumerate().all(|(i, &(low, high))| {
        (low..=high).contains(&zeros[i]) && (low..=high).contains(&ones[i])
    })
}

fn fips_long_run(block: &[bool]) -> bool {
    run_lengths(block).2 < 26
}

/// A counter or a clock, if the ids (or a long leading number in them) are one.
fn pattern(tokens: &[String], now: i64) -> Option<Pattern> {
    if tokens.len() < 2 {
        return None;
    }
    // A clock: the id starts with the time, in seconds (10 digits), milliseconds (13) or
    // microseconds (16).
    // The seconds are the milliseconds' first ten digits, and a millisecond clock followed by
    // random digits also looks like microseconds: of the units that read as "now", the finest
    // whose values never go back (a clock does not) is the one.
    let mut clocks = Vec::new();
    for (unit, digits, scale) in [
        ("microseconds", 16, 1_000_000i128),
        ("milliseconds", 13, 1_000),
        ("seconds", 10, 1),
    ] {
        let now = i128::from(now) * scale;
        let day = 86_400 * scale;
        let values: Vec<i128> = tokens
            .iter()
            .filter_map(|t| {
                t.get(..digits)
                    .filter(|d| d.chars().all(|c| c.is_ascii_digit()))
                    .and_then(|d| d.parse::<i128>().ok())
                    .filter(|n| (n - now).abs() <= day)
            })
            .collect();
        if values.len() * 10 >= tokens.len() * 9 {
            let forward = values.windows(2).filter(|w| w[1] >= w[0]).count();
            clocks.push((unit, forward * 10 >= (values.len() - 1) * 9));
        }
    }
    if let Some(&(unit, _)) = clocks
        .iter()
        .find(|(_, forward)| *forward)
        .or(clocks.last())
    {
        return Some(Pattern::Timestamp { unit });
    }
    let numbers: Vec<i128> = tokens.iter().filter_map(|t| leading_number(t)).collect();
    if numbers.len() * 10 < tokens.len() * 9 {
        return None;
    }
    if let Some(step) = common_gap(&numbers) {
        // Issued in order but collected a few at a time (or shared with other clients): in
        // sorted order most gaps are one and the same step. Random numbers' gaps never are.
        return Some(Pattern::Sequential { step });
    }
    let steps: Vec<i128> = numbers.windows(2).map(|w| w[1] - w[0]).collect();
    let up = steps.iter().filter(|s| **s > 0).count();
    if steps.is_empty() || up * 10 < steps.len() * 9 {
        return None;
    }
    let mut sorted = steps.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let range = numbers.iter().max()? - numbers.iter().min()?;
    // Random numbers rise about half the time, never nine times in ten; and a counter's steps
    // are a small share of the range it covers.
    (median > 0 && median.saturating_mul(10) <= range.max(1)).then(|| {
        let mut counts = std::collections::HashMap::new();
        for s in &steps {
            *counts.entry(*s).or_insert(0usize) += 1;
        }
        let step = counts
            .into_iter()
            .max_by_key(|(s, c)| (*c, -*s))
            .map_or(median, |(s, _)| s);
        Pattern::Sequential { step }
    })
}

/// The gap most of the sorted distinct numbers are apart, if at least half of them are.
fn common_gap(numbers: &[i128]) -> Option<i128> {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let gaps: Vec<i128> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.len() < 10 {
        return None;
    }
    let mut counts = std::collections::HashMap::new();
    for gap in &gaps {
        *counts.entry(*gap).or_insert(0usize) += 1;
    }
    let (gap, count) = counts.into_iter().max_by_key(|(g, c)| (*c, -*g))?;
    (count * 2 >= gaps.len()).then_some(gap)
}

/// The number a token is: decimal, hexadecimal, or a leading run of at least six digits.
fn leading_number(token: &str) -> Option<i128> {
    if token.is_empty() {
        return None;
    }
    if token.chars().all(|c| c.is_ascii_digit()) {
        return token.get(..token.len().min(38))?.parse().ok();
    }
    if token.len() <= 31 && token.chars().all(|c| c.is_ascii_hexdigit()) {
        return i128::from_str_radix(token, 16).ok();
    }
    let digits: String = token.chars().take_while(char::is_ascii_digit).collect();
    if (6..=38).contains(&digits.len()) {
        return digits.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests;
