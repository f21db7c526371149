//! The connection's read and write buffers.
//!
//! Both are plain `Vec<u8>`s with cursors, handed back to the worker's pool
//! when a connection goes idle, so an idle keep-alive connection holds no
//! buffer memory and a busy one never reallocates.

use std::io;

/// Bytes read from the peer and not yet consumed.
#[derive(Default)]
pub(crate) struct ReadBuf {
    /// Fully initialized storage; `len()` is the capacity in use.
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// The unconsumed bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Marks `n` bytes consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `source` into the free space, making room first and
    /// growing the storage up to `limit` bytes. `Ok(0)` is end-of-stream.
    /// Returns the count and whether the free space was filled (so the
    /// source may hold more).
    pub(crate) fn read_from<R: io::Read>(
        &mut self,
        source: &mut R,
        initial: usize,
        limit: usize,
    ) -> io::Result<(usize, bool)> {
        self.make_room(initial, limit);
        let space = &mut self.data[self.end..];
        if space.is_empty() {
            return Err(io::Error::other("read buffer full"));
        }
        let want = space.len();
        let n = source.read(space)?;
        self.end += n;
        Ok((n, n == want))
    }

    fn make_room(&mut self, initial: usize, limit: usize) {
        if self.data.is_empty() {
            self.data.resize(initial.min(limit).max(1), 0);
        }
        if self.end < self.data.len() {
            return;
        }
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end < self.data.len() {
                return;
            }
        }
        if self.data.len() < limit {
            let grown = (self.data.len() * 2).min(limit);
            self.data.resize(grown, 0);
        }
    }

    /// Gives the storage back when empty (for the pool).
    pub(crate) fn take_storage(&mut self) -> Option<Vec<u8>> {
        if self.is_empty() && !self.data.is_empty() {
            self.start = 0;
            self.end = 0;
            Some(std::mem::take(&mut self.data))
        } else {
            None
        }
    }

    /// Installs pooled storage into an empty, storage-less buffer.
    pub(crate) fn give_storage(&mut self, storage: Vec<u8>) {
        debug_assert!(self.data.is_empty());
        self.data = storage;
        self.start = 0;
        self.end = 0;
    }

    pub(crate) fn has_storage(&self) -> bool {
        !self.data.is_empty()
    }
}

/// Bytes waiting to be written to the peer.
#[derive(Default)]
pub(crate) struct WriteBuf {
    data: Vec<u8>,
    /// How much of `data` was already written.
    pos: usize,
    /// Bytes written to the sink over the buffer's life, so a mark taken
    /// before a response tells whether any of it went out.
    flushed: u64,
}

impl WriteBuf {
    pub(crate) fn len(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }

    /// A place in the stream of bytes this buffer carries, for
    /// [`WriteBuf::rewind_to`].
    pub(crate) fn mark(&self) -> u64 {
        self.flushed + self.len() as u64
    }

    /// Drops everything appended since `mark`, if none of it was written
    /// yet; returns whether it could.
    pub(crate) fn rewind_to(&mut self, mark: u64) -> bool {
        if mark < self.flushed {
            return false;
        }
        let keep = self.pos + (mark - self.flushed) as usize;
        if keep > self.data.len() {
            return false;
        }
        self.data.truncate(keep);
        true
    }

    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// The storage, for serializers that append directly.
    pub(crate) fn vec(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Writes to `sink` until empty or it would block. Returns whether
    /// everything was written; `WouldBlock` is not an error here.
    pub(crate) fn flush_to<W: io::Write>(&mut self, sink: &mut W) -> io::Result<bool> {
        while self.pos < self.data.len() {
            match sink.write(&self.data[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pos += n;
                    self.flushed += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.data.clear();
        self.pos = 0;
        Ok(true)
    }

    pub(crate) fn take_storage(&mut self) -> Option<Vec<u8>> {
        if self.is_empty() && self.data.capacity() > 0 {
            self.pos = 0;
            let mut v = std::mem::take(&mut self.data);
            v.clear();
            Some(v)
        } else {
            None
        }
    }

    pub(crate) fn give_storage(&mut self, storage: Vec<u8>) {
        debug_assert!(self.is_empty());
        self.data = storage;
        self.data.clear();
        self.pos = 0;
    }

    pub(crate) fn has_storage(&self) -> bool {
        self.data.capacity() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buf_compacts_then_grows_to_limit() {
        let mut buf = ReadBuf::default();
        let mut src: &[u8] = b"abcdefgh";
        assert_eq!(buf.read_from(&mut src, 4, 8).unwrap(), (4, true));
        buf.consume(2);
        assert_eq!(buf.read_from(&mut src, 4, 8).unwrap(), (2, true));
        assert_eq!(buf.bytes(), b"cdef");
        assert_eq!(buf.read_from(&mut src, 4, 8).unwrap(), (2, false));
        assert_eq!(buf.bytes(), b"cdefgh");
        let mut more: &[u8] = b"ijkl";
        buf.read_from(&mut more, 4, 8).unwrap();
        assert_eq!(buf.bytes(), b"cdefghij");
        assert!(buf.read_from(&mut more, 4, 8).is_err());
    }

    #[test]
    fn write_buf_rewinds_only_what_was_not_written() {
        let mut buf = WriteBuf::default();
        buf.extend(b"first;");
        let mark = buf.mark();
        buf.extend(b"second");
        assert!(buf.rewind_to(mark));
        let mut sink = Vec::new();
        buf.extend(b"third");
        let mark = buf.mark();
        buf.extend(b"fourth");
        assert!(buf.flush_to(&mut sink).unwrap());
        assert_eq!(sink, b"first;thirdfourth");
        assert!(!buf.rewind_to(mark), "bytes past the mark are already out");
        let mark = buf.mark();
        buf.extend(b"fifth");
        assert!(buf.rewind_to(mark));
        assert!(buf.is_empty());
    }

    #[test]
    fn write_buf_flushes_partially() {
        struct Slow(Vec<u8>, usize);
        impl io::Write for Slow {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.1 == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = b.len().min(self.1).min(3);
                self.1 -= n;
                self.0.extend_from_slice(&b[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut buf = WriteBuf::default();
        buf.extend(b"hello world");
        let mut sink = Slow(Vec::new(), 5);
        assert!(!buf.flush_to(&mut sink).unwrap());
        assert_eq!(buf.len(), 6);
        sink.1 = 100;
        assert!(buf.flush_to(&mut sink).unwrap());
        assert_eq!(sink.0, b"hello world");
        assert!(buf.is_empty());
    }
}
