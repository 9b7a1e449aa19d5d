//! What every outgoing HTTP call shares: bodies read with a cap, so an upstream that answers
//! without end costs the instance no more than the cap.

use futures_util::{Stream, StreamExt};

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer could not be read: {0}")]
    Read(#[from] reqwest::Error),
}

/// The whole body of `response`, refused as soon as it passes `cap` bytes (before reading when
/// `Content-Length` says so already).
pub async fn read_capped(response: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(BodyError::TooLarge(cap));
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body of `response` as a stream that fails once more than `cap` bytes came (the reader's
/// connection is then cut: the status line is long gone).
pub fn capped_stream(
    response: reqwest::Response,
    cap: u64,
) -> impl Stream<Item = Result<actix_web::web::Bytes, BodyError>> {
    let mut seen: u64 = 0;
    response.bytes_stream().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > cap {
            return Err(BodyError::TooLarge(cap as usize));
        }
        Ok(chunk)
    })
}
