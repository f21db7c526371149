use super::*;

const MASK: Option<[u8; 4]> = Some([0xa1, 0x02, 0x7f, 0x33]);

fn frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, fin, opcode, payload, MASK);
    out
}

/// Everything `reader` makes of `wire`, fed in pieces of `step` bytes the
/// way a socket might deliver them; stops at the first error.
fn read_all(
    reader: &mut MessageReader,
    wire: &[u8],
    step: usize,
) -> Result<Vec<Message>, ProtocolError> {
    let mut pending: Vec<u8> = Vec::new();
    let mut messages = Vec::new();
    for piece in wire.chunks(step.max(1)) {
        pending.extend_from_slice(piece);
        loop {
            let (used, message) = reader.read(&mut pending)?;
            pending.drain(..used);
            match message {
                Some(m) => messages.push(m),
                None => break,
            }
        }
    }
    Ok(messages)
}

fn server() -> MessageReader {
    MessageReader::new(Role::Server, 1 << 20)
}

#[test]
fn messages_come_out_whole_however_the_bytes_are_split() {
    let mut wire = Vec::new();
    wire.extend(frame(true, OpCode::Text, "héllo".as_bytes()));
    wire.extend(frame(false, OpCode::Binary, &[1, 2]));
    wire.extend(frame(true, OpCode::Ping, b"are you there"));
    wire.extend(frame(false, OpCode::Continuation, &[3]));
    wire.extend(frame(true, OpCode::Continuation, &[4, 5]));
    wire.extend(frame(true, OpCode::Text, &[]));
    let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    wire.extend(frame(true, OpCode::Binary, &big));
    wire.extend(frame(true, OpCode::Close, &[0x03, 0xe8, b'o', b'k']));
    let expected = vec![
        Message::Text("héllo".into()),
        Message::Ping(b"are you there".to_vec()),
        Message::Binary(vec![1, 2, 3, 4, 5]),
        Message::Text(String::new()),
        Message::Binary(big),
        Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "ok".into(),
        })),
    ];
    for step in [1, 2, 3, 7, 64, 4096, wire.len()] {
        assert_eq!(
            read_all(&mut server(), &wire, step).unwrap(),
            expected,
            "step {step}"
        );
    }
}

#[test]
fn a_client_reads_unmasked_frames_and_refuses_masked_ones() {
    let mut wire = Vec::new();
    write_message(&mut wire, &Message::Text("hi".into()), None);
    let mut client = MessageReader::new(Role::Client, 100);
    assert_eq!(
        read_all(&mut client, &wire, 1).unwrap(),
        [Message::Text("hi".into())]
    );
    let error = read_all(
        &mut MessageReader::new(Role::Client, 100),
        &frame(true, OpCode::Text, b"x"),
        9,
    )
    .unwrap_err();
    assert_eq!(error.code, close_code::PROTOCOL_ERROR);
}

fn refusal(wire: &[u8]) -> ProtocolError {
    read_all(
        &mut MessageReader::new(Role::Server, 1000),
        wire,
        wire.len(),
    )
    .unwrap_err()
}

#[test]
fn protocol_errors_close_with_1002() {
    let mut unmasked = Vec::new();
    write_frame(&mut unmasked, true, OpCode::Text, b"x", None);
    let mut rsv1 = frame(true, OpCode::Text, b"x");
    rsv1[0] |= 0x40;
    let mut one_byte_close = Vec::new();
    write_frame(&mut one_byte_close, true, OpCode::Close, &[3], MASK);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unmasked", unmasked),
        ("reserved bits", rsv1),
        (
            "continuation frame without a message",
            frame(true, OpCode::Continuation, b"x"),
        ),
        (
            "new message inside",
            [
                frame(false, OpCode::Text, b"a"),
                frame(true, OpCode::Text, b"b"),
            ]
            .concat(),
        ),
        ("one-byte", one_byte_close),
        ("fragmented control", vec![0x09, 0x80, 0, 0, 0, 0]),
    ];
    for (what, wire) in cases {
        let error = refusal(&wire);
        assert_eq!(error.code, close_code::PROTOCOL_ERROR, "{what}");
        assert!(error.reason.contains(what), "{what}: {}", error.reason);
    }
}

#[test]
fn close_codes_are_judged_like_the_rfc() {
    for code in 0..=5000u16 {
        let wire = frame(true, OpCode::Close, &code.to_be_bytes());
        let result = read_all(&mut server(), &wire, wire.len());
        let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
        assert_eq!(result.is_ok(), valid, "code {code}");
    }
    let bad_reason = frame(true, OpCode::Close, &[0x03, 0xe8, 0xff]);
    assert_eq!(refusal(&bad_reason).code, close_code::INVALID_PAYLOAD);
    assert_eq!(
        read_all(&mut server(), &frame(true, OpCode::Close, &[]), 1).unwrap(),
        [Message::Close(None)]
    );
}

#[test]
fn the_size_limit_is_enforced_on_the_header_and_across_fragments() {
    // Refused from the header alone: none of the payload needs to arrive.
    let mut header = Vec::new();
    write_header(&mut header, true, OpCode::Binary, 1001, MASK);
    assert_eq!(refusal(&header).code, close_code::MESSAGE_TOO_BIG);
    let parts = [
        frame(false, OpCode::Binary, &[0; 600]),
        frame(true, OpCode::Continuation, &[0; 401]),
    ]
    .concat();
    assert_eq!(refusal(&parts).code, close_code::MESSAGE_TOO_BIG);
    let exact = [
        frame(false, OpCode::Binary, &[0; 600]),
        frame(true, OpCode::Continuation, &[0; 400]),
    ]
    .concat();
    assert!(read_all(&mut MessageReader::new(Role::Server, 1000), &exact, 50).is_ok());
    // Control frames do not count against it.
    let mut small = MessageReader::new(Role::Server, 4);
    assert!(read_all(&mut small, &frame(true, OpCode::Ping, &[0; 125]), 3).is_ok());
}

#[test]
fn bad_utf8_fails_at_the_bad_byte_not_at_the_end() {
    // The first fragment's bad byte is refused before the message ends.
    let mut reader = server();
    let mut first = frame(false, OpCode::Text, b"ok \xff more");
    assert_eq!(
        reader.read(&mut first).unwrap_err().code,
        close_code::INVALID_PAYLOAD
    );
    // Within a frame too: the bad byte in the first half of the payload.
    let mut wire = frame(
        true,
        OpCode::Text,
        &[b"abc\xc0\xaf".as_slice(), &[b'x'; 1000]].concat(),
    );
    let mut reader = server();
    assert_eq!(
        reader.read(&mut wire[..20]).unwrap_err().code,
        close_code::INVALID_PAYLOAD
    );
    // A character split across fragments is fine; one left unfinished is not.
    let split = [
        frame(false, OpCode::Text, b"\xe2\x82"),
        frame(true, OpCode::Continuation, b"\xac"),
    ]
    .concat();
    assert_eq!(
        read_all(&mut server(), &split, 1).unwrap(),
        [Message::Text("€".into())]
    );
    let unfinished = frame(true, OpCode::Text, b"\xe2\x82");
    assert_eq!(refusal(&unfinished).code, close_code::INVALID_PAYLOAD);
    // Binary messages are not checked.
    assert!(read_all(&mut server(), &frame(true, OpCode::Binary, b"\xff"), 1).is_ok());
}

#[test]
fn close_reasons_are_cut_to_fit_a_control_frame() {
    let mut out = Vec::new();
    let reason = "é".repeat(100); // 200 bytes
    write_close(&mut out, 1000, &reason, None);
    let mut client = MessageReader::new(Role::Client, 1000);
    let messages = read_all(&mut client, &out, out.len()).unwrap();
    let [Message::Close(Some(close))] = messages.as_slice() else {
        panic!("{messages:?}")
    };
    assert_eq!(close.code, 1000);
    assert_eq!(close.reason, "é".repeat(61)); // 122 bytes: 123 would split a character
}

#[test]
fn control_payloads_are_cut_to_fit_their_frame() {
    let mut out = Vec::new();
    write_message(&mut out, &Message::Ping(vec![1; 300]), MASK);
    assert_eq!(
        read_all(&mut server(), &out, out.len()).unwrap(),
        [Message::Ping(vec![1; 125])]
    );
}
