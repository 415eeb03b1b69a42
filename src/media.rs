//! QR codes in members' images: an adapter beside the gateway. The hygiene
//! feature asks for an image check (a typed request in its decision); after the
//! engine has committed that decision, the request comes here. This task fetches
//! each image from the gateway's media URL, reads any QR codes in it, and hands
//! what it found back as an event through the journal, so the finding is logged
//! and the features act on it like on any other event, exactly once.
//!
//! Fetching and decoding happen off the engine, one image at a time, within
//! fixed bounds (size, pixels, time): a slow or hostile image server delays only
//! other image checks. Checks still queued when the daemon stops, or beyond the
//! queue's capacity, are dropped and logged: the message itself was already
//! handled for its text, and a late recall of an old message helps nobody.

use std::io::Cursor;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::{Event, EventBody};
use crate::engine::journal::Journal;
use crate::features::ImageCheck;

/// Largest image fetched; the download stops beyond it.
pub const MAX_IMAGE_BYTES: usize = 8 << 20;
/// Widest and tallest image decoded.
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// Longest wait for one image.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Image checks waiting; beyond this new ones are dropped (and logged).
pub const QUEUE: usize = 256;
/// Pictures read per message (a WeChat post carries at most nine); the rest
/// are skipped, so one message cannot hold the checker for long.
pub const MAX_IMAGES_PER_MESSAGE: usize = 9;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("not an http(s) URL: {0}")]
    Scheme(String),
    #[error("fetching the image failed: {0}")]
    Fetch(String),
    #[error("the image is larger than {MAX_IMAGE_BYTES} bytes")]
    TooBig,
    #[error("not a readable image: {0}")]
    Decode(String),
}

/// The text of every QR code readable in an image (PNG, JPEG or GIF).
pub fn read_qr_codes(bytes: &[u8]) -> Result<Vec<String>, MediaError> {
    let decode = |e: &dyn std::fmt::Display| MediaError::Decode(e.to_string());
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode(&e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| decode(&e))?.into_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    Ok(prepared
        .detect_grids()
        .iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect())
}

/// Downloads an image, refusing anything but http(s) and anything too big.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, MediaError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(MediaError::Scheme(url.to_string()));
    }
    let fetch = |e: reqwest::Error| MediaError::Fetch(e.to_string());
    let mut response = client
        .get(url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(fetch)?;
    if response
        .content_length()
        .is_some_and(|n| n > MAX_IMAGE_BYTES as u64)
    {
        return Err(MediaError::TooBig);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fetch)? {
        if bytes.len() + chunk.len() > MAX_IMAGE_BYTES {
            return Err(MediaError::TooBig);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Every QR code in the check's images; an image that cannot be read is logged
/// and skipped.
async fn check(client: &reqwest::Client, request: &ImageCheck) -> Vec<String> {
    let mut codes = Vec::new();
    for url in request.urls.iter().take(MAX_IMAGES_PER_MESSAGE) {
        let found = match fetch(client, url).await {
            Ok(bytes) => tokio::task::spawn_blocking(move || read_qr_codes(&bytes))
                .await
                .unwrap_or_else(|e| Err(MediaError::Decode(e.to_string()))),
            Err(e) => Err(e),
        };
        match found {
            Ok(found) => codes.extend(found),
            Err(e) => tracing::info!(url = %url, "image not checked for QR codes: {e}"),
        }
    }
    codes
}

/// Starts the checker. It stops when `stop` is cancelled (dropping its journal
/// handle, so the journal can drain) or when every sender is gone.
pub fn spawn(
    journal: Journal,
    mut requests: mpsc::Receiver<ImageCheck>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        loop {
            let request = tokio::select! {
                _ = stop.cancelled() => break,
                request = requests.recv() => match request {
                    Some(request) => request,
                    None => break,
                },
            };
            let codes = tokio::select! {
                _ = stop.cancelled() => break,
                codes = check(&client, &request) => codes,
            };
            if codes.is_empty() {
                continue;
            }
            let event = Event {
                account: request.account,
                time: clock.now().timestamp(),
                body: EventBody::QrCodes {
                    message: request.message,
                    codes,
                },
                heard_by: request.heard_by,
            };
            if let Err(e) = journal.submit(event).await {
                tracing::warn!("QR codes found but not logged: {e}");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_in_a_png_is_read() {
        let codes = read_qr_codes(&crate::simulator::qr_code_png("https://u.wechat.com/abc"))
            .expect("readable");
        assert_eq!(codes, ["https://u.wechat.com/abc"]);
    }

    #[test]
    fn an_image_without_a_code_reads_as_none() {
        let blank = image::GrayImage::from_pixel(120, 80, image::Luma([255]));
        let mut png = Vec::new();
        blank
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        assert!(read_qr_codes(&png).expect("readable").is_empty());
    }

    #[test]
    fn bytes_that_are_no_image_are_an_error() {
        assert!(matches!(
            read_qr_codes(b"<html>not an image</html>"),
            Err(MediaError::Decode(_))
        ));
    }

    #[test]
    fn an_image_beyond_the_pixel_bound_is_refused_before_decoding() {
        let wide = image::GrayImage::new(MAX_IMAGE_SIDE + 1, 1);
        let mut png = Vec::new();
        wide.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        assert!(matches!(read_qr_codes(&png), Err(MediaError::Decode(_))));
    }
}
