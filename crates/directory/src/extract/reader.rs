//! A streaming reader of the extract files: one header line, `|` or `;` as separator (taken
//! from the header), an optional trailing separator on every line, UTF-8 or Latin-1 (decided
//! per line: a line that is not valid UTF-8 is read as Latin-1, where every byte is the code
//! point of the same value). Rows come out one at a time with their line number; a row with
//! the wrong number of columns is an error for that row only.

use std::collections::HashMap;
use std::io::BufRead;

/// A bad row: the line number (1-based, the header is line 1) and why it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file.
    pub line: u64,
    /// Why the row is refused.
    pub reason: String,
}

/// Why a whole file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// No header line.
    #[error("the file is empty")]
    Empty,
    /// A column the file kind needs is absent from the header.
    #[error("missing column {0:?}")]
    MissingColumn(String),
    /// The header is not one of the known extracts.
    #[error("unknown extract: the header matches no known file")]
    UnknownKind,
}

/// Decodes one line: UTF-8 when valid, Latin-1 otherwise.
pub fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The header of a file: its separator and column positions by name.
#[derive(Debug, Clone)]
pub struct Header {
    /// `|` or `;`.
    pub separator: char,
    /// Column names in order.
    pub names: Vec<String>,
    /// Hashed with foldhash, not SipHash: every field of every row is looked up here (6 % of
    /// a first import's reading with SipHash), and a file's own header cannot make it slower
    /// than its few dozen names.
    index: HashMap<String, usize, foldhash::fast::RandomState>,
}

impl Header {
    /// Parses a header line; the separator is whichever of `|` and `;` occurs more.
    pub fn parse(line: &str) -> Self {
        let line = line
            .trim_end_matches(['\r', '\n'])
            .trim_start_matches('\u{feff}');
        let pipes = line.matches('|').count();
        let semis = line.matches(';').count();
        let separator = if semis > pipes { ';' } else { '|' };
        let mut names: Vec<String> = line.split(separator).map(|s| s.trim().to_owned()).collect();
        if names.last().is_some_and(|s| s.is_empty()) {
            names.pop();
        }
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Self {
            separator,
            names,
            index,
        }
    }

    /// The position of a column.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The positions of `columns`, or the first one missing.
    pub fn require(&self, columns: &[&str]) -> Result<Vec<usize>, FileError> {
        columns
            .iter()
            .map(|c| {
                self.position(c)
                    .ok_or_else(|| FileError::MissingColumn((*c).to_owned()))
            })
            .collect()
    }
}

/// One data row: its line number and its fields (as many as the header has columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line number.
    pub line: u64,
    /// The line, decoded.
    text: String,
    /// Where each field, trimmed, lies in `text`: one string a row rather than one a field
    /// (some 50 a row of `Personne_activite`, most of them copied again into records).
    spans: Vec<(usize, usize)>,
}

impl Row {
    /// The field at `i` (a position of the header), trimmed.
    pub fn field(&self, i: usize) -> &str {
        let (start, end) = self.spans[i];
        &self.text[start..end]
    }

    /// The fields, trimmed, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .map(|&(start, end)| &self.text[start..end])
    }
}

/// Streams the rows of an extract.
pub struct Rows<R> {
    input: R,
    header: Header,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Rows<R> {
    /// Reads the header line.
    pub fn open(mut input: R) -> Result<Self, FileError> {
        let mut buf = Vec::new();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Err(FileError::Empty);
        }
        let header = Header::parse(&decode(&buf));
        Ok(Self {
            input,
            header,
            line: 1,
            buf,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next row, a bad row, or `None` at the end; a read error ends the stream.
    pub fn next_row(&mut self) -> Result<Option<Result<Row, RowError>>, FileError> {
        loop {
            self.buf.clear();
            if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let complete = self.buf.last() == Some(&b'\n');
            let mut text = decode(&self.buf);
            text.truncate(text.trim_end_matches(['\r', '\n']).len());
            if text.trim().is_empty() {
                continue;
            }
            return Ok(Some(self.split(text, complete)));
        }
    }

    fn split(&self, text: String, complete: bool) -> Result<Row, RowError> {
        let sep = self.header.separator;
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(self.header.names.len() + 1);
        let mut start = 0;
        for field in text.split(sep) {
            let trimmed = field.trim_start();
            let from = start + (field.len() - trimmed.len());
            spans.push((from, from + trimmed.trim_end().len()));
            start += field.len() + sep.len_utf8();
        }
        let expected = self.header.names.len();
        if spans.len() == expected + 1 && spans.last().is_some_and(|(a, b)| a == b) {
            spans.pop();
        }
        if spans.len() != expected {
            let reason = if !complete && spans.len() < expected {
                format!("truncated last line: {} of {expected} columns", spans.len())
            } else {
                format!("expected {expected} columns, found {}", spans.len())
            };
            return Err(RowError {
                line: self.line,
                reason,
            });
        }
        Ok(Row {
            line: self.line,
            text,
            spans,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_with_trailing_separator_latin1_and_truncation() {
        let mut data = b"A|B|C|\n1|2|3|\n".to_vec();
        data.extend_from_slice(b"\xe9|x|y|\r\n");
        data.extend_from_slice(b"4|5|6\n7|8");
        let mut rows = Rows::open(&data[..]).unwrap();
        assert_eq!(rows.header().separator, '|');
        assert_eq!(rows.header().names, ["A", "B", "C"]);
        let r = rows.next_row().unwrap().unwrap().unwrap();
        assert_eq!(
            (r.line, r.fields().collect::<Vec<_>>()),
            (2, vec!["1", "2", "3"])
        );
        let r = rows.next_row().unwrap().unwrap().unwrap();
        assert_eq!(r.field(0), "é");
        let r = rows.next_row().unwrap().unwrap().unwrap();
        assert_eq!(r.fields().collect::<Vec<_>>(), ["4", "5", "6"]);
        let e = rows.next_row().unwrap().unwrap().unwrap_err();
        assert_eq!(e.line, 5);
        assert!(e.reason.starts_with("truncated last line"), "{}", e.reason);
        assert!(rows.next_row().unwrap().is_none());
    }

    #[test]
    fn fields_are_trimmed_in_place_whatever_their_spaces_and_letters() {
        let data = "A|B|C|D\n  é a | b\t|  |Ü  \n";
        let mut rows = Rows::open(data.as_bytes()).unwrap();
        let r = rows.next_row().unwrap().unwrap().unwrap();
        assert_eq!(r.fields().collect::<Vec<_>>(), ["é a", "b", "", "Ü"]);
        assert_eq!(r.field(3), "Ü");
    }

    #[test]
    fn semicolon_files_and_missing_columns() {
        let data = "x;y\n1;2\n";
        let rows = Rows::open(data.as_bytes()).unwrap();
        assert_eq!(rows.header().separator, ';');
        assert!(matches!(
            rows.header().require(&["x", "z"]),
            Err(FileError::MissingColumn(c)) if c == "z"
        ));
    }
}
