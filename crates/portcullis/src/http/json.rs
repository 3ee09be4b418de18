//! A JSON body extractor whose rejections come back as problem details.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::web::problem::ApiError;

/// Like [`axum::Json`], but a bad body is an [`ApiError`]: 415 for another
/// content type, 413 past the size limit, 400 otherwise. The parser's own
/// message is never echoed: it can quote the input, and the input can be a
/// password.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(AppJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
                JsonRejection::JsonDataError(_) => ApiError::InvalidRequest,
                JsonRejection::JsonSyntaxError(_) => ApiError::MalformedJson,
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge
                }
                _ => ApiError::MalformedJson,
            }),
        }
    }
}
