//! The bracketed time field, `[06/Feb/2019:00:00:38 +0000]`: always the same
//! 26 characters inside the brackets, so it is read by position rather than
//! through a format description.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::decimal::{parse_digits, push_padded};

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// What a line says when its time cannot be written: the start of the
/// epoch, as the embedded endpoint has always written it.
const UNWRITABLE: &str = "01/Jan/1970:00:00:00 +0000";

/// Reads `dd/Mon/yyyy:HH:MM:SS +hhmm`, honouring the offset.
pub(crate) fn parse(text: &str) -> Result<OffsetDateTime, &'static str> {
    // Length and separators first: they reject most garbage cheaply and make
    // every later index valid.
    let b = text.as_bytes();
    if b.len() != UNWRITABLE.len() {
        return Err("is not of the form dd/Mon/yyyy:HH:MM:SS +hhmm");
    }
    if b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' {
        return Err("is not of the form dd/Mon/yyyy:HH:MM:SS +hhmm");
    }
    if b[20] != b' ' {
        return Err("is not of the form dd/Mon/yyyy:HH:MM:SS +hhmm");
    }

    // The calendar date.
    let month = MONTHS
        .iter()
        .position(|name| name.as_slice() == &b[3..6])
        .and_then(|index| u8::try_from(index + 1).ok())
        .and_then(|number| Month::try_from(number).ok())
        .ok_or("has a month that is not Jan to Dec")?;
    let day = parse_digits(&b[0..2]).ok_or("has a day that is not two digits")?;
    let year = parse_digits(&b[7..11]).ok_or("has a year that is not four digits")?;
    let date = Date::from_calendar_date(year as i32, month, day as u8)
        .map_err(|_| "names a day that does not exist")?;

    // The time of day.
    let hour = parse_digits(&b[12..14]).ok_or("has an hour that is not two digits")?;
    let minute = parse_digits(&b[15..17]).ok_or("has a minute that is not two digits")?;
    let second = parse_digits(&b[18..20]).ok_or("has a second that is not two digits")?;
    let clock = Time::from_hms(hour as u8, minute as u8, second as u8)
        .map_err(|_| "has an hour, minute or second out of range")?;

    // The offset from UTC the clock reading is in.
    let sign: i8 = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err("has an offset that does not start with + or -"),
    };
    let offset_hours = parse_digits(&b[22..24]).ok_or("has an offset that is not four digits")?;
    let offset_minutes = parse_digits(&b[24..26]).ok_or("has an offset that is not four digits")?;
    if offset_hours > 23 || offset_minutes > 59 {
        return Err("has an offset out of range");
    }
    let offset = UtcOffset::from_hms(sign * offset_hours as i8, sign * offset_minutes as i8, 0)
        .map_err(|_| "has an offset out of range")?;

    Ok(PrimitiveDateTime::new(date, clock).assume_offset(offset))
}

/// Appends `dd/Mon/yyyy:HH:MM:SS +0000`: lines always speak UTC, as S3's
/// do, so a time in another offset is shifted first.
pub(crate) fn push(out: &mut String, time: OffsetDateTime) {
    // Only a time at the very edge of the representable range has no UTC
    // equivalent.
    let Some(utc) = time.checked_to_offset(UtcOffset::UTC) else {
        out.push_str(UNWRITABLE);
        return;
    };

    // A negative year keeps four digits after its sign, as `time` writes it.
    push_padded(out, u64::from(utc.day()), 2);
    out.push('/');
    out.extend(
        MONTHS[usize::from(u8::from(utc.month()) - 1)]
            .iter()
            .map(|&b| char::from(b)),
    );
    out.push('/');
    if utc.year() < 0 {
        out.push('-');
    }
    push_padded(out, u64::from(utc.year().unsigned_abs()), 4);
    out.push(':');
    push_padded(out, u64::from(utc.hour()), 2);
    out.push(':');
    push_padded(out, u64::from(utc.minute()), 2);
    out.push(':');
    push_padded(out, u64::from(utc.second()), 2);
    out.push_str(" +0000");
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, offset};

    use super::*;

    #[test]
    fn the_documented_example_parses() {
        assert_eq!(
            parse("06/Feb/2019:00:00:38 +0000"),
            Ok(datetime!(2019-02-06 00:00:38 UTC))
        );
    }

    #[test]
    fn the_offset_is_honoured() {
        let time = parse("06/Feb/2019:01:30:38 +0130");
        assert_eq!(time, Ok(datetime!(2019-02-06 00:00:38 UTC)));
        assert_eq!(time.map(|t| t.offset()), Ok(offset!(+01:30)));
        assert_eq!(
            parse("05/Feb/2019:19:00:38 -0500"),
            Ok(datetime!(2019-02-06 00:00:38 UTC))
        );
    }

    #[test]
    fn malformed_times_say_what_is_wrong() {
        assert_eq!(
            parse("06/Feb/2019:00:00:38"),
            Err("is not of the form dd/Mon/yyyy:HH:MM:SS +hhmm")
        );
        assert_eq!(
            parse("06/Fev/2019:00:00:38 +0000"),
            Err("has a month that is not Jan to Dec")
        );
        assert_eq!(
            parse("30/Feb/2019:00:00:38 +0000"),
            Err("names a day that does not exist")
        );
        assert_eq!(
            parse("06/Feb/2019:24:00:38 +0000"),
            Err("has an hour, minute or second out of range")
        );
        assert_eq!(
            parse("06/Feb/2019:00:00:38 *0000"),
            Err("has an offset that does not start with + or -")
        );
        assert_eq!(
            parse("06/Feb/2019:00:00:38 +0099"),
            Err("has an offset out of range")
        );
        assert_eq!(
            parse("0a/Feb/2019:00:00:38 +0000"),
            Err("has a day that is not two digits")
        );
        assert_eq!(
            parse("06/Feb/2019:00:00:38 +00é"),
            Err("has an offset that is not four digits")
        );
        assert_eq!(
            parse("06/Feb/2019:00:00:38 +000é"),
            Err("is not of the form dd/Mon/yyyy:HH:MM:SS +hhmm")
        );
    }

    #[test]
    fn times_are_written_in_utc() {
        let mut out = String::new();
        push(&mut out, datetime!(2019-02-06 01:30:38 +01:30));
        assert_eq!(out, "06/Feb/2019:00:00:38 +0000");
    }

    #[test]
    fn a_negative_year_keeps_four_digits_after_its_sign() {
        let mut out = String::new();
        push(&mut out, datetime!(-0001-12-31 23:59:59 UTC));
        assert_eq!(out, "31/Dec/-0001:23:59:59 +0000");
    }
}
