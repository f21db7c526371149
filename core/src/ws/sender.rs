//! Sending to a WebSocket from anywhere: a [`WsSender`] queues frames for
//! the socket's loop and wakes it; a [`WsGroup`] sends one encoded frame
//! to many sockets.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{write_close, write_message, Message};
use crate::Control;

/// Bytes to send: made for one socket, or encoded once and shared by many.
#[derive(Clone)]
pub(crate) enum Chunk {
    Own(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl Chunk {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Own(v) => v,
            Chunk::Shared(s) => s,
        }
    }
}

/// A message encoded once as a server frame, to send to many sockets
/// without encoding or copying it per socket.
#[derive(Clone)]
pub struct Prepared(Arc<[u8]>);

impl Prepared {
    /// Encodes `message` as a server (unmasked) frame.
    pub fn new(message: &Message) -> Prepared {
        let mut out = Vec::new();
        write_message(&mut out, message, None);
        Prepared(out.into())
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("bytes", &self.0.len())
            .finish()
    }
}

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The socket's send budget is spent: its client reads slower than it
    /// is sent to. Drop the message, or try later.
    Full,
    /// The socket is closed (or closing).
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full => "the socket's send budget is spent",
            SendError::Closed => "the socket is closed",
        })
    }
}

impl std::error::Error for SendError {}

/// What other threads queued for one socket.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) chunks: VecDeque<Chunk>,
    pub(crate) bytes: usize,
    pub(crate) closed: bool,
    /// A close asked for from outside the loop.
    pub(crate) close: Option<(u16, String)>,
}

pub(crate) struct Shared {
    pending: Mutex<Pending>,
    control: Control,
    budget: usize,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A handle that sends to one socket from any thread: cloneable, `Send`.
/// Each send is queued for the socket's loop, which is woken to write it.
#[derive(Clone)]
pub struct WsSender {
    shared: Arc<Shared>,
}

impl WsSender {
    pub(crate) fn new(control: Control, budget: usize) -> WsSender {
        WsSender {
            shared: Arc::new(Shared {
                pending: Mutex::default(),
                control,
                budget,
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Queues `message`. A `Close` message closes as
    /// [`close`](WsSender::close) does; a ping or pong payload is cut to
    /// the 125 bytes a control frame holds.
    pub fn send(&self, message: Message) -> Result<(), SendError> {
        if let Message::Close(frame) = message {
            if self.is_closed() {
                return Err(SendError::Closed);
            }
            let (code, reason) = frame.map_or((super::close_code::NORMAL, String::new()), |f| {
                (f.code, f.reason)
            });
            self.close(code, &reason);
            return Ok(());
        }
        let mut out = Vec::new();
        write_message(&mut out, &message, None);
        self.push(Chunk::Own(out))
    }

    /// Queues a message encoded once for many sockets.
    pub fn send_prepared(&self, prepared: &Prepared) -> Result<(), SendError> {
        self.push(Chunk::Shared(prepared.0.clone()))
    }

    /// Asks the socket to close with `code` and `reason` (after what is
    /// already queued).
    pub fn close(&self, code: u16, reason: &str) {
        let mut pending = self.shared.lock();
        if pending.closed || pending.close.is_some() {
            return;
        }
        pending.close = Some((code, reason.to_owned()));
        drop(pending);
        let _ = self.shared.control.wake();
    }

    /// Whether the socket is gone (sends will be refused).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Bytes queued by senders and not yet taken by the socket's loop.
    pub fn queued(&self) -> usize {
        self.shared.lock().bytes
    }

    fn push(&self, chunk: Chunk) -> Result<(), SendError> {
        let mut pending = self.shared.lock();
        if pending.closed || pending.close.is_some() {
            return Err(SendError::Closed);
        }
        if pending.bytes >= self.shared.budget {
            return Err(SendError::Full);
        }
        let was_empty = pending.chunks.is_empty();
        pending.bytes += chunk.bytes().len();
        pending.chunks.push_back(chunk);
        drop(pending);
        // One wake-up until the loop takes the queue.
        if was_empty && self.shared.control.wake().is_err() {
            self.shared.lock().closed = true;
            return Err(SendError::Closed);
        }
        Ok(())
    }

    /// Whether both handles send to the same socket.
    pub fn same_socket(&self, other: &WsSender) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl fmt::Debug for WsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSender").finish_non_exhaustive()
    }
}

/// A set of sockets to send to together (a chat room, the viewers of a
/// page): cloneable, `Send`. A broadcast encodes its message once.
#[derive(Clone, Default)]
pub struct WsGroup {
    members: Arc<Mutex<Vec<WsSender>>>,
}

impl WsGroup {
    /// An empty group.
    pub fn new() -> WsGroup {
        WsGroup::default()
    }

    /// Adds a socket (closed sockets leave by themselves at the next
    /// broadcast).
    pub fn join(&self, sender: WsSender) {
        self.lock().push(sender);
    }

    /// Removes a socket.
    pub fn leave(&self, sender: &WsSender) {
        self.lock().retain(|m| !m.same_socket(sender));
    }

    /// How many sockets are in it.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it has no sockets.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Sends `message` to every socket; returns how many took it (a full
    /// socket misses it, a closed one leaves the group).
    pub fn broadcast(&self, message: &Message) -> usize {
        self.broadcast_except(message, None)
    }

    /// Sends `message` to every socket but `except` (the one it came from).
    pub fn broadcast_except(&self, message: &Message, except: Option<&WsSender>) -> usize {
        let prepared = Prepared::new(message);
        let mut delivered = 0;
        self.lock().retain(|member| {
            if except.is_some_and(|e| e.same_socket(member)) {
                return true;
            }
            match member.send_prepared(&prepared) {
                Ok(()) => {
                    delivered += 1;
                    true
                }
                Err(SendError::Full) => true,
                Err(SendError::Closed) => false,
            }
        });
        delivered
    }

    fn lock(&self) -> MutexGuard<'_, Vec<WsSender>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for WsGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsGroup")
            .field("members", &self.len())
            .finish()
    }
}

/// Appends a close frame with `code` and `reason` as a chunk.
pub(crate) fn close_chunk(code: u16, reason: &str) -> Chunk {
    let mut out = Vec::new();
    write_close(&mut out, code, reason, None);
    Chunk::Own(out)
}
