//! Content-coding negotiation (RFC 9110 §12.5.3): which of the codings a
//! server can send a client takes, by the q-values of its `Accept-Encoding`.
//! Static files pick a precompressed sibling with it; compression picks
//! the coding to apply.

/// A content coding the server can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// Brotli (`br`).
    Brotli,
    /// zstd (`zstd`).
    Zstd,
    /// gzip (`gzip`, and the old alias `x-gzip`).
    Gzip,
}

impl Coding {
    /// The token in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The file name suffix of a precompressed sibling (`app.js.br`).
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zst",
            Coding::Gzip => "gz",
        }
    }

    fn matches(self, token: &str) -> bool {
        token.eq_ignore_ascii_case(self.token())
            || (self == Coding::Gzip && token.eq_ignore_ascii_case("x-gzip"))
    }
}

/// What to send, given a request's `Accept-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// This coding.
    Coded(Coding),
    /// No coding.
    Identity,
    /// Nothing offered is acceptable: the client refused `identity`
    /// (`identity;q=0`, or `*;q=0` without `identity`) and every coding
    /// on offer.
    NotAcceptable,
}

/// Most entries a header is read for; the rest are ignored (a defence
/// against headers made of thousands of entries).
const MAX_ENTRIES: usize = 64;

/// Picks from `offered` (in the server's order of preference, which breaks
/// ties of q-value) by `accept_encoding`, the request's header value.
///
/// No header means any coding is acceptable but none is asked for: the
/// answer is identity (RFC 9110 §12.5.3 lets a server assume either; a
/// cache or an old client then gets what it surely understands). A
/// malformed entry is skipped, never an error.
///
/// ```
/// use turnstile::negotiate::{choose, Choice, Coding};
///
/// let offered = [Coding::Brotli, Coding::Gzip];
/// assert_eq!(choose(Some("gzip, br;q=0.9"), &offered), Choice::Coded(Coding::Gzip));
/// assert_eq!(choose(Some("gzip, br"), &offered), Choice::Coded(Coding::Brotli));
/// assert_eq!(choose(Some("deflate"), &offered), Choice::Identity);
/// assert_eq!(choose(Some("identity;q=0"), &[]), Choice::NotAcceptable);
/// ```
pub fn choose(accept_encoding: Option<&str>, offered: &[Coding]) -> Choice {
    let Some(header) = accept_encoding else {
        return Choice::Identity;
    };
    // q-values in thousandths; None where the header does not name it.
    let mut star: Option<u16> = None;
    let mut identity: Option<u16> = None;
    let mut coded: [Option<u16>; 3] = [None; 3];
    for entry in header.split(',').take(MAX_ENTRIES) {
        let mut fields = entry.split(';');
        let token = fields.next().unwrap_or("").trim();
        if token.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for param in fields {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if name.trim().eq_ignore_ascii_case("q") {
                q = parse_qvalue(value.trim());
            }
        }
        let Some(q) = q else { continue };
        if token == "*" {
            star = Some(q);
        } else if token.eq_ignore_ascii_case("identity") {
            identity = Some(q);
        } else if let Some(i) = offered.iter().position(|c| c.matches(token)) {
            let slot = &mut coded[slot_of(offered[i])];
            // A coding named twice counts at its best.
            *slot = Some(slot.map_or(q, |have| have.max(q)));
        }
    }
    let mut best: Option<(Coding, u16)> = None;
    for &coding in offered {
        let q = coded[slot_of(coding)].or(star).unwrap_or(0);
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((coding, q));
        }
    }
    let identity_q = identity.or(star).unwrap_or(1);
    match best {
        // Identity wins only when the client prefers it outright.
        Some((coding, q)) if q >= identity_q => Choice::Coded(coding),
        _ if identity_q > 0 => Choice::Identity,
        Some((coding, _)) => Choice::Coded(coding),
        None => Choice::NotAcceptable,
    }
}

fn slot_of(coding: Coding) -> usize {
    match coding {
        Coding::Brotli => 0,
        Coding::Zstd => 1,
        Coding::Gzip => 2,
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths; `None` when malformed.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in fraction.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    const ALL: [Coding; 3] = [Brotli, Zstd, Gzip];

    #[test]
    fn choices_by_q_value() {
        let cases: &[(Option<&str>, Choice)] = &[
            (None, Choice::Identity),
            (Some(""), Choice::Identity),
            (Some("gzip"), Choice::Coded(Gzip)),
            (Some("x-gzip"), Choice::Coded(Gzip)),
            (Some("GZIP"), Choice::Coded(Gzip)),
            (Some("gzip, deflate, br"), Choice::Coded(Brotli)),
            (Some("gzip;q=1.0, br;q=0.5"), Choice::Coded(Gzip)),
            (Some("br;q=0, gzip"), Choice::Coded(Gzip)),
            (Some("br;q=0, gzip;q=0"), Choice::Identity),
            (Some("*"), Choice::Coded(Brotli)),
            (Some("*;q=0.5, gzip"), Choice::Coded(Gzip)),
            (Some("*;q=0"), Choice::NotAcceptable),
            (Some("*;q=0, identity"), Choice::Identity),
            (Some("identity;q=0"), Choice::NotAcceptable),
            (Some("identity;q=0, gzip;q=0.1"), Choice::Coded(Gzip)),
            (Some("identity, gzip;q=0.5"), Choice::Identity),
            (Some("identity;q=0.5, gzip;q=0.5"), Choice::Coded(Gzip)),
            (Some("deflate, compress"), Choice::Identity),
            (Some("gzip;q=0.001"), Choice::Coded(Gzip)),
            (Some(" gzip ; q=0.8 , zstd;q=0.9"), Choice::Coded(Zstd)),
            (Some("br;q=1.5, gzip"), Choice::Coded(Gzip)),
            (Some("br;q=abc, gzip;q=0.2"), Choice::Coded(Gzip)),
            (Some("br;q=0.9999"), Choice::Identity),
            (
                Some("gzip;q=0.2, gzip;q=0.9, br;q=0.5"),
                Choice::Coded(Gzip),
            ),
            (Some(",,, ,gzip,,"), Choice::Coded(Gzip)),
        ];
        for (header, want) in cases {
            assert_eq!(choose(*header, &ALL), *want, "{header:?}");
        }
    }

    #[test]
    fn only_what_is_offered() {
        assert_eq!(choose(Some("br"), &[Gzip]), Choice::Identity);
        assert_eq!(choose(Some("br, gzip;q=0.1"), &[Gzip]), Choice::Coded(Gzip));
        assert_eq!(choose(Some("identity;q=0"), &[]), Choice::NotAcceptable);
        assert_eq!(choose(Some("gzip"), &[]), Choice::Identity);
    }

    #[test]
    fn server_order_breaks_ties() {
        assert_eq!(
            choose(Some("gzip, br"), &[Gzip, Brotli]),
            Choice::Coded(Gzip)
        );
        assert_eq!(
            choose(Some("gzip, br"), &[Brotli, Gzip]),
            Choice::Coded(Brotli)
        );
    }

    #[test]
    fn q_values() {
        for (text, want) in [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("2", None),
            ("-1", None),
            ("", None),
            (".5", None),
        ] {
            assert_eq!(parse_qvalue(text), want, "{text:?}");
        }
    }
}
