//! [`FileBody`]: a response body read from an open file while it is sent,
//! in bounded pieces, on the connection's own loop: a download holds one
//! piece of memory however large the file, and no thread of the blocking
//! pool (a hundred concurrent downloads are a hundred open files, not a
//! hundred threads).
//!
//! Reads happen when the client can take more. From the page cache they
//! cost less than the copy to the socket; a slow disk would stall the loop
//! for a read's time, the trade nginx makes too without its thread pools.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// The most read from the file at once.
pub(crate) const PIECE: usize = 64 * 1024;

/// Parts of a file, with bytes between them (the part headers of a
/// `multipart/byteranges` answer), sent in order. Its length is known up
/// front, so it goes out with `Content-Length`; a file that shrinks while
/// it is served cuts the response rather than pad or shorten it silently.
#[derive(Clone)]
pub struct FileBody {
    file: Arc<File>,
    segments: Vec<Segment>,
    len: u64,
    /// The segment being sent and how far into it.
    at: usize,
    offset: u64,
}

#[derive(Clone)]
enum Segment {
    Bytes(Vec<u8>),
    File { start: u64, len: u64 },
}

impl FileBody {
    /// The bytes `start..start + len` of `file`.
    pub fn range(file: File, start: u64, len: u64) -> FileBody {
        let mut body = FileBody::empty(file);
        body.push_range(start, len);
        body
    }

    /// Nothing yet: add ranges and bytes in order.
    pub(crate) fn empty(file: File) -> FileBody {
        FileBody {
            file: Arc::new(file),
            segments: Vec::new(),
            len: 0,
            at: 0,
            offset: 0,
        }
    }

    pub(crate) fn push_range(&mut self, start: u64, len: u64) {
        if len > 0 {
            self.segments.push(Segment::File { start, len });
            self.len += len;
        }
    }

    pub(crate) fn push_bytes(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.len += bytes.len() as u64;
            self.segments.push(Segment::Bytes(bytes));
        }
    }

    /// Bytes it sends in all.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it sends nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the next piece (at most [`PIECE`] bytes) to `out`; `false`
    /// once everything was given. A file shorter than it was when the
    /// answer was made is an `UnexpectedEof`.
    pub(crate) fn next_piece(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        loop {
            let Some(segment) = self.segments.get(self.at) else {
                return Ok(false);
            };
            match segment {
                Segment::Bytes(bytes) => {
                    out.extend_from_slice(bytes);
                    self.at += 1;
                    return Ok(true);
                }
                Segment::File { start, len } => {
                    let left = len - self.offset;
                    if left == 0 {
                        self.at += 1;
                        self.offset = 0;
                        continue;
                    }
                    let want = left.min(PIECE as u64) as usize;
                    let from = out.len();
                    out.resize(from + want, 0);
                    let read = loop {
                        match self.file.read_at(&mut out[from..], start + self.offset) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            other => break other,
                        }
                    };
                    let n = match read {
                        Ok(n) => n,
                        Err(e) => {
                            out.truncate(from);
                            return Err(e);
                        }
                    };
                    out.truncate(from + n);
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the file shrank while it was being sent",
                        ));
                    }
                    self.offset += n as u64;
                    return Ok(true);
                }
            }
        }
    }
}

impl std::fmt::Debug for FileBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBody")
            .field("len", &self.len)
            .field("segments", &self.segments.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(bytes: &[u8]) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!(
            "turnstile-file-body-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        File::create(&path).unwrap().write_all(bytes).unwrap();
        let file = File::open(&path).unwrap();
        (path, file)
    }

    fn drain(body: &mut FileBody) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while body.next_piece(&mut out)? {}
        Ok(out)
    }

    #[test]
    fn ranges_and_bytes_in_order() {
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (path, file) = temp_file(&content);
        let mut body = FileBody::empty(file);
        body.push_bytes(b"<".to_vec());
        body.push_range(10, 150_000);
        body.push_bytes(b"|".to_vec());
        body.push_range(0, 0);
        body.push_range(199_990, 10);
        assert_eq!(body.len(), 1 + 150_000 + 1 + 10);
        let got = drain(&mut body).unwrap();
        let mut want = b"<".to_vec();
        want.extend_from_slice(&content[10..150_010]);
        want.push(b'|');
        want.extend_from_slice(&content[199_990..]);
        assert_eq!(got, want);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_file_that_shrinks_is_an_error_not_a_short_body() {
        let (path, file) = temp_file(&[7u8; 100_000]);
        let mut body = FileBody::range(file, 0, 100_000);
        let mut out = Vec::new();
        assert!(body.next_piece(&mut out).unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(70_000)
            .unwrap();
        let err = drain(&mut body).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        std::fs::remove_file(path).unwrap();
    }
}
