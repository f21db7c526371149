//! One worker thread: an event loop over its listener, its connections, its
//! wake-up queue and its timers.

use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::config::{Config, StopSignal};
use super::context::Context;
use super::listener::WorkerListener;
use super::timer::Timers;
use crate::conn::{Conn, Flow};
use crate::control::{ConnShared, LoopShared, Wakeup};
use crate::transport::Transport;
use crate::HandlerFactory;

const WAKER: Token = Token(usize::MAX);
/// Listener `i` has token `FIRST_LISTENER - i`: connection slots count up
/// from 0 and never meet them.
const FIRST_LISTENER: usize = usize::MAX - 1;
/// Most listeners a server can have.
pub(crate) const MAX_LISTENERS: usize = 64;

fn listener_index(token: Token) -> Option<usize> {
    let i = FIRST_LISTENER.checked_sub(token.0)?;
    (i < MAX_LISTENERS).then_some(i)
}

/// How long accepting pauses when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub(crate) struct Worker<F: HandlerFactory> {
    poll: Poll,
    /// Emptied when shutting down.
    listeners: Vec<WorkerListener>,
    conns: Slab<Conn<F::Handler>>,
    factory: F,
    cx: Context,
    timers: Timers,
    shared: Arc<LoopShared>,
    stop: Arc<StopSignal>,
    max_connections: usize,
    next_conn_id: u64,
    /// Accepting is paused (at the connection limit, or out of descriptors
    /// until this instant).
    accept_paused: bool,
    accept_retry_at: Option<Instant>,
    /// Connections that used their turn with work left.
    again: Vec<usize>,
    wakeups: Vec<Wakeup>,
}

/// What a worker is made of before its thread starts: everything here can
/// cross threads, unlike the handlers the worker will own.
pub(crate) struct WorkerSetup<F> {
    poll: Poll,
    listeners: Vec<WorkerListener>,
    factory: F,
    config: Arc<Config>,
    stop: Arc<StopSignal>,
    shared: Arc<LoopShared>,
    max_connections: usize,
}

impl<F: HandlerFactory> WorkerSetup<F> {
    pub(crate) fn new(
        mut listeners: Vec<WorkerListener>,
        factory: F,
        config: Arc<Config>,
        stop: Arc<StopSignal>,
        max_connections: usize,
    ) -> io::Result<WorkerSetup<F>> {
        if listeners.len() > MAX_LISTENERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("at most {MAX_LISTENERS} listeners"),
            ));
        }
        let poll = Poll::new()?;
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry().register(
                listener.socket.source(),
                Token(FIRST_LISTENER - i),
                Interest::READABLE,
            )?;
        }
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        Ok(WorkerSetup {
            poll,
            listeners,
            factory,
            config,
            stop,
            shared: Arc::new(LoopShared::new(waker)),
            max_connections,
        })
    }

    pub(crate) fn loop_shared(&self) -> Arc<LoopShared> {
        self.shared.clone()
    }

    /// Runs the worker's loop on the calling thread until it stops.
    pub(crate) fn run(self) {
        let now = Instant::now();
        Worker {
            poll: self.poll,
            listeners: self.listeners,
            conns: Slab::with_capacity(256.min(self.max_connections)),
            factory: self.factory,
            cx: Context::new(self.config, now),
            timers: Timers::default(),
            shared: self.shared,
            stop: self.stop,
            max_connections: self.max_connections,
            next_conn_id: 0,
            accept_paused: false,
            accept_retry_at: None,
            again: Vec::new(),
            wakeups: Vec::new(),
        }
        .run();
    }
}

impl<F: HandlerFactory> Worker<F> {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut again = Vec::new();
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("poll failed, worker stops: {e}");
                    break;
                }
            }
            self.cx.now = Instant::now();
            self.cx.date.refresh(self.cx.now);
            let mut woken = false;
            for event in events.iter() {
                match event.token() {
                    WAKER => woken = true,
                    token if listener_index(token).is_some() => self.accept(),
                    Token(slot) => {
                        let Some(conn) = self.conns.get_mut(slot) else {
                            continue;
                        };
                        let hangup = event.is_error()
                            || (event.is_write_closed() && conn.exchange_id().is_some());
                        if hangup {
                            conn.on_hangup();
                            self.remove(slot);
                            continue;
                        }
                        conn.on_event(
                            event.is_readable(),
                            event.is_writable(),
                            event.is_read_closed(),
                        );
                        self.drive(slot);
                    }
                }
            }
            if woken {
                self.on_wake();
            }
            std::mem::swap(&mut again, &mut self.again);
            for slot in again.drain(..) {
                self.drive(slot);
            }
            self.fire_timers();
            if self.accept_paused && self.can_accept() {
                self.accept();
            }
            if self.cx.shutting_down {
                let past_deadline = self.stop.deadline().is_some_and(|d| self.cx.now >= d);
                let all_answered = self.conns.iter().all(|(_, c)| c.is_lingering());
                if all_answered || past_deadline {
                    break;
                }
            }
        }
        self.shared.mark_stopped();
        for mut conn in self.conns.drain() {
            conn.abort();
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut next = self.timers.next_deadline();
        if let Some(retry) = self.accept_retry_at {
            next = Some(next.map_or(retry, |n| n.min(retry)));
        }
        if self.cx.shutting_down {
            if let Some(deadline) = self.stop.deadline() {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        // Round up to the next millisecond so a timer is never polled early
        // and spun on.
        next.map(|at| at.saturating_duration_since(now) + Duration::from_micros(999))
    }

    fn can_accept(&self) -> bool {
        !self.cx.shutting_down
            && !self.listeners.is_empty()
            && self.conns.len() < self.max_connections
            && self.accept_retry_at.is_none_or(|at| self.cx.now >= at)
    }

    /// Takes pending connections from every listener, while it may.
    fn accept(&mut self) {
        for i in 0..self.listeners.len() {
            if !self.accept_from(i) {
                return;
            }
        }
    }

    /// Accepts from listener `i` until it would block; returns false when
    /// accepting is paused.
    fn accept_from(&mut self, i: usize) -> bool {
        // Errors that repeat (a socket that cannot accept at all) must not
        // hold the loop: give up this round after a few.
        let mut errors = 0;
        loop {
            if !self.can_accept() {
                self.accept_paused = true;
                return false;
            }
            self.accept_paused = false;
            self.accept_retry_at = None;
            let Some(listener) = self.listeners.get(i) else {
                return true;
            };
            match listener.accept() {
                Ok((transport, addr)) => self.add(transport, addr),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if is_resource_exhaustion(&e) => {
                    log::warn!("accept paused: {e}");
                    self.accept_paused = true;
                    self.accept_retry_at = Some(self.cx.now + ACCEPT_BACKOFF);
                    return false;
                }
                Err(e) => {
                    // A connection that died in the backlog, and the like.
                    log::debug!("accept failed: {e}");
                    errors += 1;
                    if errors >= 32 {
                        log::warn!("accept keeps failing ({e}); trying again on the next event");
                        return true;
                    }
                }
            }
        }
    }

    fn add(&mut self, mut transport: Transport, addr: Option<std::net::SocketAddr>) {
        let entry = self.conns.vacant_entry();
        let slot = entry.key();
        if let Err(e) = self.poll.registry().register(
            &mut transport,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("could not register a connection: {e}");
            return;
        }
        self.next_conn_id += 1;
        let shared = Arc::new(ConnShared {
            current: AtomicU64::new(0),
            shared: self.shared.clone(),
        });
        let mut conn = Conn::new(
            transport,
            self.next_conn_id,
            slot,
            addr,
            shared,
            self.cx.now,
        );
        conn.deadline = Some(self.cx.now + self.cx.config.head_timeout);
        self.timers
            .schedule(slot, conn.id, conn.deadline, &mut conn.scheduled);
        entry.insert(conn);
    }

    fn drive(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        conn.prepare_write_buffer(&mut self.cx);
        let flow = conn.drive(&mut self.cx, &mut self.factory);
        self.after_turn(slot, flow);
    }

    fn after_turn(&mut self, slot: usize, flow: Flow) {
        match flow {
            Flow::Close => self.remove(slot),
            Flow::Again | Flow::Keep => {
                if flow == Flow::Again {
                    self.again.push(slot);
                }
                if let Some(conn) = self.conns.get_mut(slot) {
                    self.timers
                        .schedule(slot, conn.id, conn.deadline, &mut conn.scheduled);
                }
            }
        }
    }

    fn remove(&mut self, slot: usize) {
        if let Some(mut conn) = self.conns.try_remove(slot) {
            conn.abort();
            let _ = self.poll.registry().deregister(conn.transport_mut());
        }
        if self.accept_paused && self.can_accept() {
            self.accept();
        }
    }

    fn on_wake(&mut self) {
        if !self.cx.shutting_down && self.stop.deadline().is_some() {
            self.begin_shutdown();
        }
        self.shared.drain_into(&mut self.wakeups);
        let mut wakeups = std::mem::take(&mut self.wakeups);
        for wakeup in wakeups.drain(..) {
            let Some(conn) = self.conns.get_mut(wakeup.slot) else {
                continue;
            };
            if conn.exchange_id() != Some(wakeup.exchange) {
                continue; // that request is gone; the slot serves another
            }
            conn.wake(wakeup.next, self.cx.now);
            self.drive(wakeup.slot);
        }
        self.wakeups = wakeups;
    }

    fn begin_shutdown(&mut self) {
        self.cx.shutting_down = true;
        for mut listener in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(listener.socket.source());
        }
        let slots: Vec<usize> = self.conns.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            if let Some(conn) = self.conns.get_mut(slot) {
                conn.begin_shutdown(self.cx.now);
            }
            self.drive(slot);
        }
    }

    fn fire_timers(&mut self) {
        let now = self.cx.now;
        while let Some((at, slot, id)) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            if conn.id != id {
                continue;
            }
            if conn.scheduled == Some(at) {
                conn.scheduled = None;
            }
            match conn.deadline {
                Some(deadline) if deadline <= now => {
                    let flow = conn.on_timeout(&mut self.cx, &mut self.factory);
                    self.after_turn(slot, flow);
                }
                deadline => {
                    self.timers
                        .schedule(slot, id, deadline, &mut conn.scheduled);
                }
            }
        }
        // Entries left behind by deadlines that moved earlier: drop them
        // before they outnumber the connections by much.
        if self.timers.len() > 2 * self.conns.len() + 1024 {
            let conns = &self.conns;
            self.timers.retain(|at, slot, id| {
                conns
                    .get(slot)
                    .is_some_and(|c| c.id == id && c.scheduled == Some(at))
            });
            for (slot, conn) in self.conns.iter_mut() {
                if conn.scheduled.is_some() {
                    continue; // its entry was kept
                }
                self.timers
                    .schedule(slot, conn.id, conn.deadline, &mut conn.scheduled);
            }
        }
    }
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc_errno::EMFILE | libc_errno::ENFILE | libc_errno::ENOBUFS | libc_errno::ENOMEM)
    )
}

/// The errno values (Linux) `accept` reports when the process or system is
/// out of descriptors or memory.
mod libc_errno {
    pub(super) const EMFILE: i32 = 24;
    pub(super) const ENFILE: i32 = 23;
    pub(super) const ENOBUFS: i32 = 105;
    pub(super) const ENOMEM: i32 = 12;
}
