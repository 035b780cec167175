//! The sandbox's direct login of a test identity: no authentication at all, so sandbox realms
//! only (a production realm refuses it when loaded, and again here at login).

use super::{LoginMethod, LoginRefusal, Unavailable, WalletSubmission, finish_login};
use axum::http::StatusCode;
use axum::response::Response;
use coeur_common::identity::NationalId;
use coeur_common::identity::NationalIdError;
use coeur_oauth::realm::{AuthMethod, Realm};
use coeur_web::Text;
use futures_util::future::BoxFuture;

/// Login of the test identity the user typed, completed at once.
pub(crate) struct TestLogin;

impl LoginMethod for TestLogin {
    fn method(&self) -> AuthMethod {
        AuthMethod::Test
    }

    fn available_in(&self, realm: &Realm) -> Result<(), Unavailable> {
        if realm.sandbox {
            Ok(())
        } else {
            Err(Unavailable {
                message: Text::new("login.sandbox_only"),
                status: StatusCode::FORBIDDEN,
            })
        }
    }

    fn start<'a>(
        &'a self,
        form: WalletSubmission<'a>,
    ) -> BoxFuture<'a, Result<Response, LoginRefusal>> {
        Box::pin(async move {
            // Checked again here, not only when the form is read: no path completes a test
            // login in a production realm.
            if let Err(u) = self.available_in(&form.login.rt.realm) {
                return Err(LoginRefusal::Message(u.message, u.status));
            }
            let national_id = NationalId::parse(form.typed_national_id).map_err(|e| {
                LoginRefusal::NationalId(national_id_error(&e), StatusCode::BAD_REQUEST)
            })?;
            finish_login(&form.login, &national_id, self).await
        })
    }
}

/// What the wallet page says of a national identifier that does not parse.
pub(super) fn national_id_error(e: &NationalIdError) -> Text {
    match e {
        NationalIdError::Empty => Text::new("national_id.empty"),
        NationalIdError::RppsFormat => Text::new("national_id.rpps_format"),
        NationalIdError::RppsKey => Text::new("national_id.rpps_key"),
        NationalIdError::UnknownForm => Text::new("national_id.unknown_form"),
        NationalIdError::EditFormat => Text::new("national_id.edit_format"),
    }
}
