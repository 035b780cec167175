//! Changing a location's capacities: the one write path, taken by the FHIR API's `PATCH` and
//! by the editors' pages alike. The location is read, the editor's structures asked (the
//! directory for a professional, the offer's table for a service account) on every change,
//! [`authorise_edit`] decides, the version the editor saw is compared, the change is computed
//! by the caller's pure function (a JSON Patch applied, a form read) from the current
//! location, and the store writes it with its history row in one transaction, only if the
//! version has not moved meanwhile. Each caller maps the [`Edited`] outcome to its answer.

use crate::authz::{Editor, EditorAuthorised, Refused, authorise_edit};
use crate::http::Offer;
use crate::model::{Capacity, LocationRecord};
use crate::patch::PatchError;
use crate::store::Updated;
use anyhow::Result;

/// Why the structures of an editor are not known.
#[derive(Debug)]
pub enum TiesUnknown {
    /// The directory could not be asked (try again later).
    Directory(anyhow::Error),
    /// The offer's own store failed.
    Store(anyhow::Error),
}

/// The structures (FINESS numbers) `editor` is tied to: a professional's from the directory
/// (none when the offer runs without it), a service account's from the offer's table.
pub async fn structures_of(o: &Offer, editor: &Editor) -> Result<Vec<String>, TiesUnknown> {
    match editor {
        Editor::ServiceAccount { client_id } => o
            .store
            .service_account_structures(client_id)
            .await
            .map_err(TiesUnknown::Store),
        Editor::Professional { national_id } => match &o.directory {
            None => Ok(vec![]),
            Some(d) => d
                .structures_of(national_id)
                .await
                .map_err(TiesUnknown::Directory),
        },
    }
}

/// What a change came to.
#[derive(Debug)]
pub enum Edited {
    /// Written: the location as it now is.
    Done(Box<LocationRecord>),
    /// The location moved on since the version the editor saw: as it now is. Nothing written.
    Stale(Box<LocationRecord>),
    /// No such location.
    Missing,
    /// The editor may not change it. Nothing written.
    Refused(Refused),
    /// The change is not valid. Nothing written.
    Invalid(PatchError),
    /// The directory cannot say which structures the editor works for. Nothing written.
    DirectoryDown(anyhow::Error),
}

/// How many times a change without an expected version is made again when another change
/// was written between its read and its write.
const ATTEMPTS: usize = 3;

/// Changes the capacities of location `id` for `editor` (holding `scope`) if they may, from
/// `expected` (the version they saw; `None`: whatever the current one is), to what `change`
/// makes of the current location. Without an expected version, a change written by another
/// meanwhile is no conflict: the change is made again from the location as it then is (a
/// few times at most, then [`Edited::Stale`]).
pub async fn edit_capacities(
    o: &Offer,
    editor: &Editor,
    scope: &str,
    id: &str,
    expected: Option<i64>,
    mut change: impl FnMut(&LocationRecord) -> Result<Vec<Capacity>, PatchError>,
) -> Result<Edited> {
    let mut attempt = 1;
    loop {
        match edit_once(o, editor, scope, id, expected, &mut change).await? {
            Edited::Stale(_) if expected.is_none() && attempt < ATTEMPTS => attempt += 1,
            edited => return Ok(edited),
        }
    }
}

async fn edit_once(
    o: &Offer,
    editor: &Editor,
    scope: &str,
    id: &str,
    expected: Option<i64>,
    change: &mut impl FnMut(&LocationRecord) -> Result<Vec<Capacity>, PatchError>,
) -> Result<Edited> {
    let Some(current) = o.store.location(id).await? else {
        return Ok(Edited::Missing);
    };
    let auth = match authorise(o, editor, scope, &current).await? {
        Ok(a) => a,
        Err(e) => return Ok(e),
    };
    let expected = expected.unwrap_or(current.version);
    if expected != current.version {
        return Ok(Edited::Stale(Box::new(current)));
    }
    let capacities = match change(&current) {
        Ok(c) => c,
        Err(e) => return Ok(Edited::Invalid(e)),
    };
    Ok(
        match o
            .store
            .update_capacities(
                &auth,
                expected,
                &current.capacities,
                &capacities,
                o.clock.now(),
            )
            .await?
        {
            Updated::Done(l) => {
                tracing::info!(location = %id, version = l.version, by = %auth.who(), "capacities changed");
                Edited::Done(l)
            }
            Updated::Stale(_) => match o.store.location(id).await? {
                Some(now) => Edited::Stale(Box::new(now)),
                None => Edited::Missing,
            },
            Updated::Missing => Edited::Missing,
        },
    )
}

/// Whether `editor` may change `location`: the permission, or the outcome to answer.
pub async fn authorise(
    o: &Offer,
    editor: &Editor,
    scope: &str,
    location: &LocationRecord,
) -> Result<Result<EditorAuthorised, Edited>> {
    let structures = match structures_of(o, editor).await {
        Ok(s) => s,
        Err(TiesUnknown::Directory(e)) => return Ok(Err(Edited::DirectoryDown(e))),
        Err(TiesUnknown::Store(e)) => return Err(e),
    };
    Ok(
        authorise_edit(editor, scope, &structures, &location.id, &location.finess)
            .map_err(Edited::Refused),
    )
}
