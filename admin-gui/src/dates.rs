//! Dates as the users type them: JJ/MM/AAAA, the separators put in for them, and an impossible
//! date (31/02/2020) told at once, never sent.
//!
//! This is input assistance, not a rule of the record: whether a real date is acceptable (not in
//! the future, offences before the conviction…) is the database's to say.

/// What a date field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateInput {
    /// Nothing typed.
    Empty,
    /// Still being typed, possible so far.
    Partial,
    /// A real calendar date.
    Valid(time::Date),
    /// Not a date of the calendar (31/02/2020, 00/01/2020, 12/13/2020), or a day or month
    /// that no completion can make right (32/…, …/13).
    Impossible,
}

/// Reformats what the user typed into `JJ/MM/AAAA`: digits only, at most 8, the separators put
/// in as soon as a day or month is complete. `deleting` is true when the text got shorter
/// (backspace): then no separator is appended, or the user could not delete it. A `/` typed
/// after a single digit pads the day or month with a zero (`3/` → `03/`).
pub fn mask(raw: &str, deleting: bool) -> String {
    let parts: Vec<&str> = raw.split('/').collect();
    let mut digits = String::new();
    for (i, part) in parts.iter().enumerate() {
        let d: String = part.chars().filter(char::is_ascii_digit).collect();
        let is_last = i + 1 == parts.len();
        if !is_last && i < 2 && d.len() == 1 && digits.len() == i * 2 {
            digits.push('0');
        }
        digits.push_str(&d);
    }
    digits.truncate(8);
    let mut out = String::with_capacity(10);
    for (i, c) in digits.chars().enumerate() {
        if i == 2 || i == 4 {
            out.push('/');
        }
        out.push(c);
    }
    if !deleting && (digits.len() == 2 || digits.len() == 4) {
        out.push('/');
    }
    out
}

/// Reads a field's text.
pub fn parse(text: &str) -> DateInput {
    let text = text.trim();
    if text.is_empty() {
        return DateInput::Empty;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<u32>().ok());
    if let Some(day) = num(0..2)
        && !(1..=31).contains(&day)
    {
        return DateInput::Impossible;
    }
    if let Some(first) = num(0..1)
        && first > 3
    {
        return DateInput::Impossible;
    }
    if let Some(month) = num(2..4) {
        if !(1..=12).contains(&month) {
            return DateInput::Impossible;
        }
        // 30/02, 31/04 … are impossible whatever the year.
        let max_day = match month {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if num(0..2).is_some_and(|d| d > max_day) {
            return DateInput::Impossible;
        }
    }
    if let Some(first) = num(2..3)
        && first > 1
    {
        return DateInput::Impossible;
    }
    if digits.len() < 8 {
        return DateInput::Partial;
    }
    let (Some(day), Some(month), Some(year)) = (num(0..2), num(2..4), num(4..8)) else {
        return DateInput::Impossible;
    };
    let Ok(month) = time::Month::try_from(month as u8) else {
        return DateInput::Impossible;
    };
    match time::Date::from_calendar_date(year as i32, month, day as u8) {
        Ok(d) => DateInput::Valid(d),
        Err(_) => DateInput::Impossible,
    }
}

/// `JJ/MM/AAAA` of a date.
pub fn format(d: time::Date) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), u8::from(d.month()), d.year())
}

/// A moment in the workstation's time zone, `JJ/MM/AAAA HH:MM`.
pub fn format_date_time(t: time::OffsetDateTime) -> String {
    let t = match time::UtcOffset::current_local_offset() {
        Ok(offset) => t.to_offset(offset),
        Err(_) => t,
    };
    format!("{} {:02}:{:02}", format(t.date()), t.hour(), t.minute())
}

/// ISO 8601 (`AAAA-MM-JJ`), as the database takes dates.
pub fn iso(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `JJ/MM/AAAA` of an ISO date from the database; the text itself if it is not one.
pub fn from_iso(s: &str) -> String {
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => format!("{d}/{m}/{y}"),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_put_in_while_typing() {
        let mut text = String::new();
        for c in "17042007".chars() {
            text.push(c);
            text = mask(&text, false);
        }
        assert_eq!(text, "17/04/2007");
        assert_eq!(mask("1", false), "1");
        assert_eq!(mask("17", false), "17/");
        assert_eq!(mask("17/0", false), "17/0");
        assert_eq!(mask("17/04", false), "17/04/");
        assert_eq!(mask("17/04/20071", false), "17/04/2007");
    }

    #[test]
    fn backspace_removes_the_separator() {
        // "17/" then backspace gives "17": the separator is not put back.
        assert_eq!(mask("17", true), "17");
        assert_eq!(mask("17/04", true), "17/04");
    }

    #[test]
    fn a_typed_separator_pads_a_single_digit() {
        assert_eq!(mask("3/", false), "03/");
        assert_eq!(mask("03/4/", false), "03/04/");
        assert_eq!(mask("3/4/2001", false), "03/04/2001");
    }

    #[test]
    fn pasted_text_keeps_only_digits() {
        assert_eq!(mask("17.04.2007", false), "17/04/2007");
        assert_eq!(mask(" 17-04-2007 ", false), "17/04/2007");
    }

    #[test]
    fn impossible_dates_are_told_apart() {
        assert_eq!(parse(""), DateInput::Empty);
        assert_eq!(parse("1"), DateInput::Partial);
        assert_eq!(parse("31/0"), DateInput::Partial);
        assert_eq!(parse("31/02/"), DateInput::Impossible);
        assert_eq!(parse("31/02/2020"), DateInput::Impossible);
        assert_eq!(parse("29/02/2021"), DateInput::Impossible);
        assert_eq!(parse("00/01/2020"), DateInput::Impossible);
        assert_eq!(parse("12/13/2020"), DateInput::Impossible);
        assert_eq!(parse("4"), DateInput::Impossible);
        assert_eq!(parse("12/2"), DateInput::Impossible);
        assert_eq!(parse("31/04/"), DateInput::Impossible);
        let d = time::Date::from_calendar_date(2020, time::Month::February, 29).expect("date");
        assert_eq!(parse("29/02/2020"), DateInput::Valid(d));
        assert_eq!(format(d), "29/02/2020");
        assert_eq!(iso(d), "2020-02-29");
        assert_eq!(from_iso("2020-02-29"), "29/02/2020");
    }
}
