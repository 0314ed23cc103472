//! Decimal numbers in fixed-width fields, written without `fmt` (whose
//! `Result` the writers here would only have to discard) and read without
//! `str::parse` (which accepts a sign).

/// Appends `n` in decimal with at least `width` digits, zero-padded.
pub(crate) fn push_padded(out: &mut String, n: u64, width: usize) {
    // Digits come out least significant first; a u64 has at most 20.
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = n;
    while len < digits.len() && (rest > 0 || len < width.max(1)) {
        digits[len] = b'0' + (rest % 10) as u8;
        rest /= 10;
        len += 1;
    }
    out.extend(digits[..len].iter().rev().map(|&b| char::from(b)));
}

/// The number a short run of ASCII digits spells; `None` if any byte is
/// not a digit. Callers pass at most nine bytes, so it cannot overflow.
pub(crate) fn parse_digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(n: u64, width: usize) -> String {
        let mut out = String::new();
        push_padded(&mut out, n, width);
        out
    }

    #[test]
    fn numbers_are_padded_to_the_width_and_never_cut() {
        assert_eq!(padded(7, 2), "07");
        assert_eq!(padded(0, 1), "0");
        assert_eq!(padded(0, 0), "0");
        assert_eq!(padded(12345, 2), "12345");
        assert_eq!(padded(u64::MAX, 1), u64::MAX.to_string());
    }

    #[test]
    fn only_plain_digits_are_read() {
        assert_eq!(parse_digits(b"0042"), Some(42));
        assert_eq!(parse_digits(b"+42"), None);
        assert_eq!(parse_digits(b"4 2"), None);
    }
}
