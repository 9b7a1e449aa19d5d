//! The opaque `cursor` of paged lists (`docs/HTTP.md`): where the next page starts in a
//! newest-first order, as base64url of the last item's creation time (microseconds) and id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;

use crate::share::ShareId;
use crate::storage::share_overview::Position;

const LEN: usize = 8 + 16;

pub fn encode(position: Position) -> String {
    let mut bytes = [0u8; LEN];
    bytes[..8].copy_from_slice(&position.created_at.timestamp_micros().to_be_bytes());
    bytes[8..].copy_from_slice(position.id.uuid().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `None` for anything [`encode`] did not make.
pub fn decode(cursor: &str) -> Option<Position> {
    let mut bytes = [0u8; LEN];
    if cursor.len() != 32 || URL_SAFE_NO_PAD.decode_slice(cursor, &mut bytes).ok()? != LEN {
        return None;
    }
    let micros = i64::from_be_bytes(bytes[..8].try_into().ok()?);
    Some(Position {
        created_at: DateTime::from_timestamp_micros(micros)?,
        id: ShareId::from_bytes(bytes[8..].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_cursor_comes_back_as_its_position() {
        let position = Position {
            created_at: DateTime::from_timestamp_micros(1_796_000_000_123_456).unwrap(),
            id: ShareId::new(),
        };
        let cursor = encode(position);
        assert_eq!(cursor.len(), 32);
        assert_eq!(decode(&cursor), Some(position));
    }

    #[test]
    fn what_encode_did_not_make_is_refused() {
        let good = encode(Position {
            created_at: DateTime::from_timestamp_micros(0).unwrap(),
            id: ShareId::new(),
        });
        for bad in [
            "",
            "abc",
            &good[..31],
            &format!("{good}A"),
            &format!("+{}", &good[1..]),
            "!".repeat(32).as_str(),
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn decoding_never_panics(text in "\\PC{0,64}") {
            let _ = decode(&text);
        }
    }
}
