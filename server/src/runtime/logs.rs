//! Captured log lines: a bounded ring buffer per server, fed line by line from stderr.

use std::collections::VecDeque;

use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest line kept, in bytes; the rest of a longer line is dropped.
const MAX_LINE: usize = 4096;

/// One captured line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LogLine {
    /// When it was captured, in Unix milliseconds.
    pub at: i64,
    /// The text, without the line break. Lines from the supervisor itself start with `apiary:`.
    pub line: String,
}

/// The last `capacity` lines of one server.
#[derive(Debug)]
pub(crate) struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
}

impl LogBuffer {
    /// An empty buffer that keeps at most `capacity` lines.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
        }
    }

    /// Appends a line, dropping the oldest when full.
    pub(crate) fn push(&mut self, line: String) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine {
            at: crate::db::now_millis(),
            line,
        });
    }

    /// Every kept line, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<LogLine> {
        self.lines.iter().cloned().collect()
    }
}

/// Reads the next line of at most [`MAX_LINE`] bytes (lossy UTF-8), or `None` at the end.
/// Memory stays bounded even when a process writes a huge line without a break.
pub(crate) async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut saw_any = false;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(saw_any.then(|| finish(&line)));
        }
        saw_any = true;
        let (chunk, used, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (&buffer[..end], end + 1, true),
            None => (buffer, buffer.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if done {
            return Ok(Some(finish(&line)));
        }
    }
}

fn finish(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_keeps_the_newest_lines() {
        let mut buffer = LogBuffer::new(2);
        for line in ["a", "b", "c"] {
            buffer.push(line.into());
        }
        let lines: Vec<_> = buffer.snapshot().into_iter().map(|l| l.line).collect();
        assert_eq!(lines, ["b", "c"]);
    }

    #[tokio::test]
    async fn lines_are_split_trimmed_and_bounded() {
        let long = "x".repeat(MAX_LINE * 3);
        let input = format!("one\r\n{long}\nlast");
        let mut reader = tokio::io::BufReader::with_capacity(64, input.as_bytes());
        let mut lines = Vec::new();
        while let Some(line) = next_line(&mut reader).await.expect("read") {
            lines.push(line);
        }
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "one");
        assert_eq!(lines[1].len(), MAX_LINE);
        assert_eq!(lines[2], "last");
    }
}
