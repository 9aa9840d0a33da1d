//! Lenient number reading shared by the converters and the envelope.
//!
//! Debezium's documentation (and some hand-written producers) print numbers as
//! JSON strings (`"ts_ms": "1580390884335"`, `"event_serial_no": "1"`). Where a
//! Connect integer is expected, a string holding an integer literal is
//! accepted; anything else is an error naming the field.
//!
//! Exact decimals are parsed here (plain or with an exponent) because
//! `sluice_sink_api::Decimal::parse` rejects exponents, which MongoDB's
//! `$numberDecimal` and JSON numbers use. Scales and exponents are bounded so
//! a hostile input cannot make the decoder allocate gigabytes of zeros.

use sluice_sink_api::Decimal;

use super::connect::ConnectValue;

/// Largest |scale| or |exponent| accepted for an exact decimal (PostgreSQL's
/// `numeric` allows 16383 digits after the point).
pub const MAX_DECIMAL_SCALE: i64 = 16_383;

/// Reads an integer from an integer value or an integer literal in a string.
pub fn lenient_i64(value: &ConnectValue) -> Option<i64> {
    match value {
        ConnectValue::Int(i) => Some(*i),
        ConnectValue::UInt(u) => i64::try_from(*u).ok(),
        ConnectValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        ConnectValue::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a non-negative integer (see [`lenient_i64`]), including values above `i64::MAX`.
pub fn lenient_u64(value: &ConnectValue) -> Option<u64> {
    match value {
        ConnectValue::UInt(u) => Some(*u),
        ConnectValue::String(s) => s.trim().parse().ok(),
        other => lenient_i64(other).and_then(|i| u64::try_from(i).ok()),
    }
}

/// Parses a decimal literal: `-12.50`, `7`, `.5`, `1.5E+3`, `1e-2`.
/// The scale is the number of fraction digits after applying the exponent
/// (never negative: `1E+3` is `1000`, scale 0). `None` when the text is not a
/// decimal literal or its exponent exceeds [`MAX_DECIMAL_SCALE`].
pub fn parse_decimal_text(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => {
            let exp: i64 = text[i + 1..].strip_prefix('+').unwrap_or(&text[i + 1..]).parse().ok()?;
            (&text[..i], exp)
        }
        None => (text, 0),
    };
    if exponent.abs() > MAX_DECIMAL_SCALE {
        return None;
    }
    let (negative, body) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut digits = format!("{int_part}{frac_part}");
    let mut scale = frac_part.len() as i64 - exponent;
    if scale < 0 {
        digits.push_str(&"0".repeat((-scale) as usize));
        scale = 0;
    }
    if scale > MAX_DECIMAL_SCALE {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    let literal = if scale == 0 {
        format!("{sign}{digits}")
    } else {
        let scale = scale as usize;
        let digits =
            if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale + 1 - digits.len())) } else { digits };
        let (i, f) = digits.split_at(digits.len() - scale);
        format!("{sign}{i}.{f}")
    };
    Decimal::parse(&literal)
}

/// `decimal` with at least `scale` fraction digits (trailing zeros added).
/// A decimal with more digits than `scale` is returned unchanged: dropping
/// digits would lose information.
pub fn pad_scale(decimal: Decimal, scale: u32) -> Decimal {
    if decimal.scale() >= scale {
        return decimal;
    }
    let text = decimal.to_string();
    let extra = (scale - decimal.scale()) as usize;
    let padded = if decimal.scale() == 0 {
        format!("{text}.{}", "0".repeat(extra))
    } else {
        format!("{text}{}", "0".repeat(extra))
    };
    Decimal::parse(&padded).unwrap_or(decimal)
}

/// A decimal from an unscaled big-endian two's-complement integer and a
/// possibly negative scale (Java `BigDecimal` allows `1E+3` = unscaled 1, scale -3).
pub fn decimal_from_unscaled(bytes: &[u8], scale: i64) -> Option<Decimal> {
    if scale.abs() > MAX_DECIMAL_SCALE {
        return None;
    }
    if scale >= 0 {
        return Some(Decimal::from_be_twos_complement(bytes, scale as u32));
    }
    let base = Decimal::from_be_twos_complement(bytes, 0);
    parse_decimal_text(&format!("{base}e{}", -scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_literals() {
        let d = |s: &str| parse_decimal_text(s).map(|d| d.to_string());
        assert_eq!(d("12345.67").as_deref(), Some("12345.67"));
        assert_eq!(d("-0.5").as_deref(), Some("-0.5"));
        assert_eq!(d("1.5E+3").as_deref(), Some("1500"));
        assert_eq!(d("1.5e3").as_deref(), Some("1500"));
        assert_eq!(d("15e-3").as_deref(), Some("0.015"));
        assert_eq!(d("-15E-1").as_deref(), Some("-1.5"));
        assert_eq!(d("0E-10").map(|_| ()), Some(()));
        assert_eq!(d("1e99999999"), None);
        assert_eq!(d("abc"), None);
        assert_eq!(d("1.2.3"), None);
        assert_eq!(d(""), None);
    }

    #[test]
    fn scale_padding_and_negative_scale() {
        assert_eq!(pad_scale(parse_decimal_text("12.5").unwrap(), 3).to_string(), "12.500");
        assert_eq!(pad_scale(parse_decimal_text("12").unwrap(), 2).to_string(), "12.00");
        assert_eq!(pad_scale(parse_decimal_text("12.345").unwrap(), 2).to_string(), "12.345");
        assert_eq!(decimal_from_unscaled(&[0x01], -3).unwrap().to_string(), "1000");
        assert_eq!(decimal_from_unscaled(&[0xff], 2).unwrap().to_string(), "-0.01");
        assert!(decimal_from_unscaled(&[1], 1_000_000).is_none());
    }

    #[test]
    fn lenient_integers() {
        assert_eq!(lenient_i64(&ConnectValue::String("42".into())), Some(42));
        assert_eq!(lenient_i64(&ConnectValue::String("4x".into())), None);
        assert_eq!(lenient_u64(&ConnectValue::String("18446744073709551615".into())), Some(u64::MAX));
        assert_eq!(lenient_u64(&ConnectValue::Int(-1)), None);
    }
}
