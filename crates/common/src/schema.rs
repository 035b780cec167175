//! The statements of a schema file (the directory's and the offer's own migrations): the text
//! split at each `;`, comment lines (`--`) left out, empty statements dropped. Their files
//! hold no `;` inside a statement or a comment, which this split relies on.

/// The statements of `file`, in order.
pub fn statements(file: &str) -> impl Iterator<Item = String> + '_ {
    file.split(';')
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn statements_come_without_comments_or_empty_ones() {
        let file =
            "-- a comment\nCREATE TABLE a (x INT);\n  -- another\nCREATE INDEX b ON a (x)\n;\n\n";
        let got: Vec<String> = statements(file).collect();
        assert_eq!(got, ["CREATE TABLE a (x INT)", "\nCREATE INDEX b ON a (x)"]);
        assert_eq!(statements("-- only a comment\n").count(), 0);
    }
}
