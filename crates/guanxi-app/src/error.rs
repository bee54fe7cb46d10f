//! What a use case can fail with: each error has a stable code and a [`Kind`], and the
//! kind decides — in one table, [`Kind::http_status`] and [`Kind::exit_code`] — how the
//! web and the API answer (4xx with the message; 5xx opaque, the cause logged) and how
//! the CLI exits.

use guanxi_analytics::AnalyticsError;
use guanxi_import::ImportError;
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
    #[error(transparent)]
    Import(#[from] guanxi_import::ImportError),
    /// The engines' failure: a stored program or template that does not read, or the
    /// store under them.
    #[error(transparent)]
    Engage(#[from] guanxi_engage::EngageError),
}

/// What sort of failure an error is, for the one table of answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The caller's input is wrong: located, fixable by them.
    BadInput,
    /// Something it needs does not exist yet (no orders, no build).
    Missing,
    /// Not signed in, or the credentials are wrong.
    Unauthenticated,
    /// Signed in, but the role (or the token's scopes) may not.
    Forbidden,
    /// Too many attempts: wait, then try again.
    Throttled,
    /// Ours, not the caller's: the store, the lake, a bug.
    Internal,
}

impl Kind {
    /// A store's error: its refusal is about the request (a name taken, a merged
    /// customer); anything else is ours.
    pub fn of_store(e: &StoreError) -> Kind {
        match e {
            StoreError::Refused(_) => Kind::BadInput,
            _ => Kind::Internal,
        }
    }

    /// An import's error: bad files and bad options are the caller's (located problems,
    /// a usage mistake, a rejects file that cannot be written where asked).
    pub fn of_import(e: &ImportError) -> Kind {
        match e {
            ImportError::Invalid { .. } | ImportError::Usage(_) | ImportError::Rejects { .. } => Kind::BadInput,
            ImportError::Store(e) => Kind::of_store(e),
            ImportError::Lake(_) | ImportError::Writer(_) => Kind::Internal,
        }
    }

    /// The HTTP status the web and the API answer with.
    pub fn http_status(self) -> u16 {
        match self {
            Kind::BadInput => 400,
            Kind::Missing => 409,
            Kind::Unauthenticated => 401,
            Kind::Forbidden => 403,
            Kind::Throttled => 429,
            Kind::Internal => 500,
        }
    }

    /// The CLI's exit status (sysexits.h where one fits: 65 data error, 75 try again
    /// later, 77 permission denied).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::BadInput => 65,
            Kind::Missing | Kind::Internal => 1,
            Kind::Unauthenticated | Kind::Forbidden => 77,
            Kind::Throttled => 75,
        }
    }
}

impl AppError {
    /// Where this error sits in the table of answers.
    pub fn kind(&self) -> Kind {
        match self {
            AppError::BadInput { .. } => Kind::BadInput,
            AppError::Missing { .. } => Kind::Missing,
            AppError::Denied { code, .. } => match *code {
                "sign_in_failed" | "unauthorized" => Kind::Unauthenticated,
                "sign_in_throttled" => Kind::Throttled,
                _ => Kind::Forbidden,
            },
            AppError::Store(e) => Kind::of_store(e),
            AppError::Import(e) => Kind::of_import(e),
            AppError::Details(_) | AppError::Lake(_) | AppError::Analytics(_) | AppError::Engage(_) => Kind::Internal,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadInput { code, .. } | AppError::Missing { code, .. } | AppError::Denied { code, .. } => code,
            AppError::Details(_) => "profile_details",
            AppError::Store(e) => e.code(),
            AppError::Lake(e) => e.code(),
            AppError::Analytics(e) => e.code(),
            AppError::Import(e) => e.code(),
            AppError::Engage(e) => e.code(),
        }
    }

    /// Whether the caller's input was at fault.
    pub fn is_bad_input(&self) -> bool {
        self.kind() == Kind::BadInput
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, so that changing an answer is changing this test.
    #[test]
    fn each_kind_has_one_status_and_one_exit_code() {
        let table: Vec<(Kind, u16, u8)> = [
            Kind::BadInput,
            Kind::Missing,
            Kind::Unauthenticated,
            Kind::Forbidden,
            Kind::Throttled,
            Kind::Internal,
        ]
        .into_iter()
        .map(|k| (k, k.http_status(), k.exit_code()))
        .collect();
        assert_eq!(
            table,
            [
                (Kind::BadInput, 400, 65),
                (Kind::Missing, 409, 1),
                (Kind::Unauthenticated, 401, 77),
                (Kind::Forbidden, 403, 77),
                (Kind::Throttled, 429, 75),
                (Kind::Internal, 500, 1),
            ]
        );
        let denied = |code| AppError::Denied {
            code,
            message: String::new(),
        };
        assert_eq!(denied("sign_in_failed").kind(), Kind::Unauthenticated);
        assert_eq!(denied("sign_in_throttled").kind(), Kind::Throttled);
        assert_eq!(denied("forbidden").kind(), Kind::Forbidden);
        assert_eq!(
            AppError::Store(StoreError::Refused("taken".into())).kind(),
            Kind::BadInput
        );
        assert_eq!(AppError::Store(StoreError::Database("x".into())).kind(), Kind::Internal);
    }
}
