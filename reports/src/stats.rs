//! Small numeric helpers: the median and spread of repeats, and the start
//! time of a run from its RFC 3339 `created` stamp (to tell repeats, which
//! follow each other, from load workers, which run at the same time).

use serde::Serialize;

/// A headline value: the median over runs, with the range when there were
/// several (`bench --repeat K`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    pub value: f64,
    pub min: f64,
    pub max: f64,
    /// Runs the value was taken from.
    pub runs: usize,
}

impl Stat {
    /// Median and range of the values that exist; `None` when none does.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Stat> {
        let v: Vec<f64> = values
            .into_iter()
            .flatten()
            .filter(|x| x.is_finite())
            .collect();
        let value = median(v.iter().copied())?;
        Some(Stat {
            value,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            runs: v.len(),
        })
    }

    /// Several runs that did not all give the same value.
    pub fn has_spread(&self) -> bool {
        self.runs > 1 && self.max > self.min
    }
}

/// Median (mean of the two middle values for an even count).
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Seconds since the UNIX epoch of `2026-11-29T06:31:00Z` (fraction and a
/// `±hh:mm` offset allowed). `None` for anything else: such a file is then
/// treated as a run of its own.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let s = s.trim();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':'
        || b[16] != b':'
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let hh: i64 = o[1..3].parse().ok()?;
            let mm: i64 = o[4..6].parse().ok()?;
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (hh * 3600 + mm * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([]), None);
        let s = Stat::of([Some(5.0), None, Some(1.0), Some(3.0)]).expect("stat");
        assert_eq!((s.value, s.min, s.max, s.runs), (3.0, 1.0, 5.0, 3));
        assert!(s.has_spread());
        assert!(Stat::of([None]).is_none());
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2026-11-29T06:31:00Z"), Some(1_795_933_860.0));
        assert_eq!(
            parse_rfc3339("2026-11-29T07:31:00.5+01:00"),
            Some(1_795_933_860.5)
        );
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-13-29T06:31:00Z"), None);
    }
}
