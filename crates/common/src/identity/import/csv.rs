//! Records of a CSV file (RFC 4180): a header, then one record per identity, each with the
//! line it starts on. Comma or semicolon separated (the header decides), fields optionally
//! in double quotes (`""` for a quote, line breaks allowed inside), blank lines skipped.

use super::RowError;

/// The header's fields and the records after it, each with the line it starts on.
pub(super) struct Records {
    /// The header's fields.
    pub header: Vec<String>,
    /// (line, fields) of each record after the header.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Splits `text` into records.
pub(super) fn records(text: &str) -> Result<Records, RowError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let sep = if first_line.contains(';') && !first_line.contains(',') {
        ';'
    } else {
        ','
    };
    let mut all = Reader::new(sep).read(text)?.into_iter();
    let Some((_, header)) = all.next() else {
        return Err(RowError::at(
            1,
            "the file is empty: a header line is expected",
        ));
    };
    Ok(Records {
        header,
        rows: all.collect(),
    })
}

/// The reader's state over one file.
struct Reader {
    sep: char,
    line: usize,
    out: Vec<(usize, Vec<String>)>,
    record: Vec<String>,
    record_line: usize,
    field: String,
    /// The current field started with a quote.
    quoted: bool,
    /// Inside the quotes of a quoted field.
    in_quotes: bool,
    /// A quote just closed the quoted field: only a separator or a line end may follow.
    closed: bool,
}

impl Reader {
    fn new(sep: char) -> Self {
        Self {
            sep,
            line: 1,
            out: Vec::new(),
            record: Vec::new(),
            record_line: 1,
            field: String::new(),
            quoted: false,
            in_quotes: false,
            closed: false,
        }
    }

    fn read(mut self, text: &str) -> Result<Vec<(usize, Vec<String>)>, RowError> {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if self.in_quotes {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        self.field.push('"');
                    }
                    '"' => {
                        self.in_quotes = false;
                        self.closed = true;
                    }
                    '\n' => {
                        self.line += 1;
                        self.field.push(c);
                    }
                    _ => self.field.push(c),
                }
                continue;
            }
            match c {
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\r' => {
                    self.end_record();
                    self.line += 1;
                    self.record_line = self.line;
                }
                c if c == self.sep => self.end_field(),
                '"' if self.field.is_empty() && !self.quoted => {
                    self.quoted = true;
                    self.in_quotes = true;
                }
                _ if self.closed => {
                    return Err(RowError::at(
                        self.line,
                        "a quoted field goes on after its closing quote",
                    ));
                }
                '"' => {
                    return Err(RowError::at(
                        self.line,
                        "a quote inside an unquoted field (quote the whole field, with \"\" for a quote)",
                    ));
                }
                _ => self.field.push(c),
            }
        }
        if self.in_quotes {
            return Err(RowError::at(
                self.record_line,
                "a quoted field is never closed",
            ));
        }
        self.end_record();
        Ok(self.out)
    }

    fn end_field(&mut self) {
        self.record.push(std::mem::take(&mut self.field));
        self.quoted = false;
        self.closed = false;
    }

    fn end_record(&mut self) {
        let blank = self.record.is_empty() && self.field.trim().is_empty() && !self.quoted;
        self.end_field();
        let record = std::mem::take(&mut self.record);
        if !blank {
            self.out.push((self.record_line, record));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<(usize, Vec<String>)> {
        let r = records(text).unwrap();
        let mut all = vec![(0, r.header)];
        all.extend(r.rows);
        all
    }

    #[test]
    fn quoted_fields_separators_and_lines() {
        let got = rows("a,b\r\n1,\"x, \"\"y\"\"\"\n\n\"multi\nline\",2\n3,\n");
        assert_eq!(
            got,
            vec![
                (0, vec!["a".to_owned(), "b".to_owned()]),
                (2, vec!["1".to_owned(), "x, \"y\"".to_owned()]),
                (4, vec!["multi\nline".to_owned(), "2".to_owned()]),
                (6, vec!["3".to_owned(), String::new()]),
            ]
        );
        let got = rows("\u{feff}a;b\n1;2,5");
        assert_eq!(got[1], (2, vec!["1".to_owned(), "2,5".to_owned()]));
    }

    #[test]
    fn malformed_quotes_say_where() {
        let e = records("a,b\n1,\"open\n2,3\n").err().unwrap();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("never closed"), "{e}");
        let e = records("a,b\n1,2\n3,x\"y\n").err().unwrap();
        assert_eq!(e.line, 3);
        let e = records("a,b\n\"1\"2,3\n").err().unwrap();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("after its closing quote"), "{e}");
        assert_eq!(records("").err().unwrap().line, 1);
    }
}
