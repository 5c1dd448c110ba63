//! Turns a line and column of a YAML document into the key path a reader would name:
//! `listeners.sflow.bind`, `protected_networks[1].prefixes[0]`.
//!
//! serde-saphyr reports where an error is, not which key it belongs to, so this walks the
//! block structure of the source up to that point: indentation opens and closes mappings,
//! `- ` opens sequence items, and a `[...]` flow sequence on the error line gives an index
//! by counting commas. Comments and blank lines are ignored.

/// One open key or sequence item; `items` counts the sequence items seen directly below.
struct Frame {
    indent: usize,
    segment: String,
    items: usize,
}

/// The key path at `line` (1-based) and `column` (1-based), or `""` at the top level.
pub(crate) fn key_path(src: &str, line: usize, column: usize) -> String {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root_items = 0;
    for (i, raw) in src.lines().enumerate().take(line) {
        let is_error_line = i + 1 == line;
        let content = strip_comment(raw);
        if content.trim().is_empty() {
            continue;
        }
        let mut indent = content.len() - content.trim_start().len();
        let mut rest = content.trim_start();
        // A line may start with one or more "- " sequence markers.
        while let Some(after) = rest
            .strip_prefix("- ")
            .or_else(|| (rest == "-").then_some(""))
        {
            // Items may sit at their parent key's indent ("key:\n- item"): keep that key.
            while stack.last().is_some_and(|f| {
                f.indent > indent || (f.indent == indent && f.segment.starts_with('['))
            }) {
                stack.pop();
            }
            let counter = match stack.last_mut() {
                Some(parent) => &mut parent.items,
                None => &mut root_items,
            };
            let idx = *counter;
            *counter += 1;
            stack.push(Frame {
                indent,
                segment: format!("[{idx}]"),
                items: 0,
            });
            indent += 2;
            rest = after.trim_start();
        }
        if let Some((key, value)) = split_key(rest) {
            pop_to(&mut stack, indent);
            stack.push(Frame {
                indent,
                segment: key.to_string(),
                items: 0,
            });
            if is_error_line {
                let value_col = raw.len() - value.len() + 1;
                let mut path = join(&stack);
                if column >= value_col {
                    path.push_str(&flow_index(raw, column));
                }
                return path;
            }
        } else if is_error_line {
            return join(&stack) + &flow_index(raw, column);
        }
    }
    join(&stack)
}

fn pop_to(stack: &mut Vec<Frame>, indent: usize) {
    while stack.last().is_some_and(|f| f.indent >= indent) {
        stack.pop();
    }
}

fn join(stack: &[Frame]) -> String {
    let mut out = String::new();
    for f in stack {
        if !f.segment.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(&f.segment);
    }
    out
}

/// `key: value` (plain or quoted key). Returns the key and the text after the colon.
fn split_key(s: &str) -> Option<(&str, &str)> {
    if s.starts_with(['[', '{']) {
        return None;
    }
    let colon = s
        .find(": ")
        .or_else(|| s.strip_suffix(':').map(|k| k.len()))?;
    let key = s[..colon].trim().trim_matches(['"', '\'']);
    if key.is_empty() || key.contains(['[', '{', ',']) {
        return None;
    }
    Some((key, &s[(colon + 1).min(s.len())..]))
}

/// Index within a `[a, b, c]` flow sequence at `column`, as `[n]`, or `""`.
fn flow_index(line: &str, column: usize) -> String {
    let upto: String = line.chars().take(column.saturating_sub(1)).collect();
    let Some(open) = upto.rfind('[') else {
        return String::new();
    };
    if upto[open..].contains(']') {
        return String::new();
    }
    format!("[{}]", upto[open..].matches(',').count())
}

fn strip_comment(line: &str) -> &str {
    // A '#' starts a comment at line start or after whitespace, outside quotes.
    let mut quote = None;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'#') if i == 0 || bytes[i - 1].is_ascii_whitespace() => return &line[..i],
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::key_path;

    const DOC: &str = "\
# comment
listeners:
  sflow:
    bind: 0.0.0.0:6343   # trailing
    receive_buffer: 8 MiB
mirror:
  - interface: eth1
    sampling: 0
  - interface: eth2
protected_networks:
  - name: web
    prefixes: [192.0.2.0/24, 10.0.0.0/33]
  - name: v6
    prefixes:
      - 2001:db8::/32
      - nope
";

    #[test]
    fn compact_sequences() {
        let doc = "mirror:\n- interface: a\n- interface: b\n  bpf: x\nother: 1\n";
        assert_eq!(key_path(doc, 4, 3), "mirror[1].bpf");
        assert_eq!(key_path(doc, 5, 8), "other");
    }

    #[test]
    fn paths() {
        assert_eq!(key_path(DOC, 4, 11), "listeners.sflow.bind");
        assert_eq!(key_path(DOC, 5, 5), "listeners.sflow.receive_buffer");
        assert_eq!(key_path(DOC, 8, 15), "mirror[0].sampling");
        assert_eq!(key_path(DOC, 9, 18), "mirror[1].interface");
        assert_eq!(key_path(DOC, 12, 30), "protected_networks[0].prefixes[1]");
        assert_eq!(key_path(DOC, 16, 9), "protected_networks[1].prefixes[1]");
        assert_eq!(key_path(DOC, 1, 1), "");
    }
}
