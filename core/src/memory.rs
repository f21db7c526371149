//! [`MemoryTransport`]: a byte pipe standing in for a socket, under the
//! local connection (plain or TLS).

use std::io::{self, Read, Write};

/// A byte pipe standing in for a socket: what the caller sends is read by
/// the connection; what the connection writes collects in `output`.
#[derive(Debug, Default)]
pub(crate) struct MemoryTransport {
    pub(crate) input: Vec<u8>,
    read_pos: usize,
    pub(crate) input_closed: bool,
    pub(crate) output: Vec<u8>,
}

impl Read for MemoryTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = &self.input[self.read_pos..];
        if available.is_empty() {
            if self.input_closed {
                return Ok(0);
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.read_pos += n;
        if self.read_pos == self.input.len() {
            self.input.clear();
            self.read_pos = 0;
        }
        Ok(n)
    }
}

impl Write for MemoryTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
