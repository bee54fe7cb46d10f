//! What a use case can fail with: each error has a stable code, and says whether the
//! caller's input was at fault (the CLI exits 65, the API answers 4xx) or not.

use guanxi_analytics::AnalyticsError;
use guanxi_lake::LakeError;
use guanxi_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input the caller gave that the use case cannot take (a date, an expression),
    /// naming the parameter it came in.
    #[error("{message}")]
    BadInput { code: &'static str, message: String },
    /// What the use case needs does not exist yet (no orders, no profile build), with
    /// what to do about it.
    #[error("{message}")]
    Missing { code: &'static str, message: String },
    /// The caller may not do this: not signed in, a wrong password, a role without the
    /// capability, too many failed sign-ins.
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    /// A profile's details could not be written for the lake.
    #[error("cannot write a profile's details: {0}")]
    Details(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadInput { code, .. } | AppError::Missing { code, .. } | AppError::Denied { code, .. } => code,
            AppError::Details(_) => "profile_details",
            AppError::Store(e) => e.code(),
            AppError::Lake(e) => e.code(),
            AppError::Analytics(e) => e.code(),
        }
    }

    /// Whether the caller's input was at fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, AppError::BadInput { .. })
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
