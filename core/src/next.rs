//! [`Next`]: what a handler (or an upgraded protocol) wants after each
//! event, with an optional timeout.

use std::fmt;
use std::time::Duration;

/// What a handler wants next, with an optional timeout.
///
/// ```
/// use std::time::Duration;
/// use turnstile_core::Next;
///
/// // Wait up to 30 seconds for body bytes; after that, `on_error(Error::Timeout)`.
/// let next = Next::read().timeout(Duration::from_secs(30));
/// assert_eq!(next.timeout_duration(), Some(Duration::from_secs(30)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Next {
    pub(crate) interest: Interest,
    pub(crate) timeout: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
    ReadWrite,
    Wait,
    End,
    Remove,
    /// The handler panicked (engine-internal; never returned by a handler).
    Panicked,
    /// A `Control::wake` arrived: ask the handler (engine-internal).
    Woken,
}

impl Next {
    const fn new(interest: Interest) -> Next {
        Next {
            interest,
            timeout: None,
        }
    }

    /// Call [`Handler::on_request_readable`](crate::Handler::on_request_readable) when body bytes are available.
    pub const fn read() -> Next {
        Next::new(Interest::Read)
    }

    /// Call [`Handler::on_response`](crate::Handler::on_response) (the first time), then
    /// [`Handler::on_response_writable`](crate::Handler::on_response_writable) when the body can take bytes.
    pub const fn write() -> Next {
        Next::new(Interest::Write)
    }

    /// Both: stream a body in while another streams out.
    pub const fn read_and_write() -> Next {
        Next::new(Interest::ReadWrite)
    }

    /// Call nothing until [`Control::ready`](crate::Control::ready) says what next.
    pub const fn wait() -> Next {
        Next::new(Interest::Wait)
    }

    /// The response is complete (a head not yet written is written as set,
    /// with no body). The connection goes on to the next request.
    pub const fn end() -> Next {
        Next::new(Interest::End)
    }

    /// Abort: close the connection without finishing the response.
    pub const fn remove() -> Next {
        Next::new(Interest::Remove)
    }

    /// What a `Control::wake` asks for: the handler's `on_wake` says.
    pub(crate) const fn woken() -> Next {
        Next::new(Interest::Woken)
    }

    /// What the engine records when a handler callback panicked.
    pub(crate) const fn panicked() -> Next {
        Next::new(Interest::Panicked)
    }

    /// Gives up waiting after `duration`: the handler then gets
    /// `on_error(Error::Timeout)`. Without it, reads and writes use the
    /// server's body timeout and `wait()` waits for ever.
    pub const fn timeout(mut self, duration: Duration) -> Next {
        self.timeout = Some(duration);
        self
    }

    /// The timeout set with [`Next::timeout`].
    pub fn timeout_duration(&self) -> Option<Duration> {
        self.timeout
    }
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.interest {
            Interest::Read => "Next::read()",
            Interest::Write => "Next::write()",
            Interest::ReadWrite => "Next::read_and_write()",
            Interest::Wait => "Next::wait()",
            Interest::End => "Next::end()",
            Interest::Remove => "Next::remove()",
            Interest::Panicked => "(handler panicked)",
            Interest::Woken => "(woken)",
        };
        f.write_str(name)?;
        if let Some(t) = self.timeout {
            write!(f, ".timeout({t:?})")?;
        }
        Ok(())
    }
}
