//! Who may do what (pure): reading needs the read scope; changing a location's capacities
//! needs the write scope and an editor tied to the location's structure, a professional
//! whose directory record (PractitionerRole → Organization) names the structure, or one of
//! the structure's service accounts. The store's write takes an [`EditorAuthorised`], which
//! only [`authorise_edit`] makes.

/// The scope reading needs.
pub const READ_SCOPE: &str = "offer:read";
/// The scope changing capacities needs.
pub const WRITE_SCOPE: &str = "offer:write";

/// Whether a token's space-separated `scope` grants `needed`.
pub fn has_scope(scope: &str, needed: &str) -> bool {
    scope.split(' ').any(|s| s == needed)
}

/// Who asks to change capacities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Editor {
    /// A professional (user token), by national identifier.
    Professional {
        /// The national identifier (RPPS form, `8…`).
        national_id: String,
    },
    /// A client acting for itself (client credentials): a structure's service account.
    ServiceAccount {
        /// The client id.
        client_id: String,
    },
}

impl Editor {
    /// How the history names them.
    pub fn label(&self) -> String {
        match self {
            Self::Professional { national_id } => format!("professional:{national_id}"),
            Self::ServiceAccount { client_id } => format!("client:{client_id}"),
        }
    }
}

/// Permission to change one location's capacities, for one editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditorAuthorised {
    location_id: String,
    who: String,
}

impl EditorAuthorised {
    /// The location it is for.
    pub fn location_id(&self) -> &str {
        &self.location_id
    }

    /// The editor, as the history names them.
    pub fn who(&self) -> &str {
        &self.who
    }
}

/// Why an edit is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The token lacks the write scope.
    Scope,
    /// The editor is not tied to the location's structure.
    NotTheirStructure,
}

/// Decides whether `editor` (holding `scope`), tied to the structures `structures` (FINESS
/// numbers, from the directory or the service accounts), may change the capacities of
/// `location_id`, which belongs to the structure `location_finess`.
pub fn authorise_edit(
    editor: &Editor,
    scope: &str,
    structures: &[String],
    location_id: &str,
    location_finess: &str,
) -> Result<EditorAuthorised, Refused> {
    if !has_scope(scope, WRITE_SCOPE) {
        return Err(Refused::Scope);
    }
    if !structures.iter().any(|s| s == location_finess) {
        return Err(Refused::NotTheirStructure);
    }
    Ok(EditorAuthorised {
        location_id: location_id.to_owned(),
        who: editor.label(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editors_need_the_scope_and_a_tie() {
        let p = Editor::Professional {
            national_id: "810000000001".into(),
        };
        let ties = vec!["759000001".to_owned()];
        let ok = authorise_edit(&p, "openid offer:write", &ties, "l1", "759000001").unwrap();
        assert_eq!(ok.location_id(), "l1");
        assert_eq!(ok.who(), "professional:810000000001");
        assert_eq!(
            authorise_edit(&p, "offer:read", &ties, "l1", "759000001"),
            Err(Refused::Scope)
        );
        assert_eq!(
            authorise_edit(&p, "offer:write", &ties, "l2", "699000002"),
            Err(Refused::NotTheirStructure)
        );
        let c = Editor::ServiceAccount {
            client_id: "sih".into(),
        };
        assert_eq!(
            authorise_edit(&c, "offer:write", &[], "l1", "759000001"),
            Err(Refused::NotTheirStructure)
        );
        assert!(has_scope("a offer:read", READ_SCOPE));
        assert!(!has_scope("offer:reader", READ_SCOPE));
    }
}
