//! The JSON documents of a file, each with the line it starts on: one object, an array of
//! objects, or objects one after the other (JSON Lines).

use super::RowError;
use serde_json::Value;

/// Each object of `text`, parsed, with the line it starts on.
pub(super) fn documents(text: &str) -> Result<Vec<(usize, Value)>, RowError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (line, slice) in objects(text)? {
        let value = serde_json::from_str(slice).map_err(|e| {
            RowError::at(line + e.line().saturating_sub(1), format!("not JSON: {e}"))
        })?;
        out.push((line, value));
    }
    if out.is_empty() {
        return Err(RowError::at(1, "no JSON object in the file"));
    }
    Ok(out)
}

/// The text of each top-level object (or each element of a top-level array), found by
/// following brackets outside strings; serde_json then parses each one.
fn objects(text: &str) -> Result<Vec<(usize, &str)>, RowError> {
    let in_array = text.trim_start().starts_with('[');
    // Objects sit at this depth: inside the outer array, or at the top.
    let level = usize::from(in_array);
    let (mut depth, mut line) = (0usize, 1usize);
    let (mut in_string, mut escaped, mut array_closed) = (false, false, false);
    let mut start: Option<(usize, usize)> = None;
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if depth == level && start.is_none() {
            // Between objects: separators, the outer array's brackets, or the next object.
            match c {
                _ if c.is_whitespace() => continue,
                '[' if in_array && depth == 0 && !array_closed => {
                    depth = 1;
                    continue;
                }
                ',' if in_array && depth == 1 => continue,
                ']' if in_array && depth == 1 => {
                    depth = 0;
                    array_closed = true;
                    continue;
                }
                '{' if !array_closed => start = Some((i, line)),
                _ => return Err(RowError::at(line, "expected a JSON object")),
            }
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == level
                    && let Some((from, at)) = start.take()
                {
                    out.push((at, text.get(from..=i).unwrap_or_default()));
                }
            }
            _ => {}
        }
    }
    if let Some((_, at)) = start {
        return Err(RowError::at(at, "this JSON object is never closed"));
    }
    if in_array && !array_closed {
        return Err(RowError::at(line, "the JSON array is never closed"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_an_array_or_lines() {
        let one = documents("{\"a\": \"}{\"}").unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].1["a"], "}{");
        let array = documents("[\n  {\"a\": 1},\n  {\"a\": [2, {\"b\": \"\\\"\"}]}\n]\n").unwrap();
        assert_eq!(array.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [2, 3]);
        let lines = documents("{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": 3}").unwrap();
        assert_eq!(lines.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 2, 4]);
    }

    #[test]
    fn bad_json_says_where() {
        let e = documents("[\n {\"a\": 1},\n {\"a\":\n  tru}\n]").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.reason.starts_with("not JSON"), "{e}");
        assert_eq!(documents("[\n 1\n]").unwrap_err().line, 2);
        assert_eq!(documents("[{\"a\": 1}").unwrap_err().line, 1);
        assert_eq!(documents("{\"a\": 1}\n{\"a\": ").unwrap_err().line, 2);
        assert_eq!(documents("[{\"a\": 1}] {}").unwrap_err().line, 1);
        assert_eq!(documents(" \n").unwrap_err().line, 1);
    }
}
