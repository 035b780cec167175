//! The approval requests' repository (shared by e-CPS logins and CIBA) on both databases: a
//! request is decided once, while pending and unexpired, and consumed once.

use crate::both_dbs;
use crate::support::*;
use coeur::oauth::ecps::{Channel, Origin, Status};
use coeur::provider::store::{Decided, NewApproval};

both_dbs!(
    an_approval_is_decided_once_and_consumed_once,
    |db| async move {
        let s = TestServer::start(db).await;
        let store = &s.state.store;
        let new = |id: &'static str, expires_at: i64| NewApproval {
            id,
            realm: "edit",
            national_id: NATIONAL_ID,
            client_id: "rp",
            origin: Origin::Ciba,
            channel: Channel::Mobile,
            binding_message: Some("42"),
            acr: Some("eidas1"),
            nonce: "nonce",
            params: "{}",
            secret_hash: Some(id),
            poll_interval: Some(1),
            created_at: 100,
            expires_at,
        };
        store.create_approval(&new("a", 220)).await.unwrap();
        store.create_approval(&new("b", 150)).await.unwrap();
        let pending = store
            .pending_approvals("edit", NATIONAL_ID, Channel::Mobile, 160)
            .await
            .unwrap();
        assert_eq!(pending.len(), 1, "b expired: {pending:?}");
        assert_eq!(pending[0].id, "a");
        assert!(
            store
                .pending_approvals("edit", NATIONAL_ID, Channel::Card, 160)
                .await
                .unwrap()
                .is_empty()
        );
        let approve = Decided {
            approved: true,
            device_id: Some("dev"),
            method: "ecps",
            amr: "swk pin",
            at: 160,
        };
        assert!(
            !store.decide_approval("edit", "b", &approve).await.unwrap(),
            "expired"
        );
        assert!(
            !store.consume_approval("edit", "a").await.unwrap(),
            "not approved yet"
        );
        assert!(
            !store
                .decide_approval("esante-wallet", "a", &approve)
                .await
                .unwrap(),
            "other realm"
        );
        assert!(store.decide_approval("edit", "a", &approve).await.unwrap());
        let deny = Decided {
            approved: false,
            ..approve
        };
        assert!(
            !store.decide_approval("edit", "a", &deny).await.unwrap(),
            "decided once"
        );
        let a = store.approval_by_secret("a").await.unwrap().unwrap();
        assert_eq!(a.status, Status::Approved);
        assert_eq!(a.device_id.as_deref(), Some("dev"));
        assert_eq!(a.amr.as_deref(), Some("swk pin"));
        assert_eq!(store.record_poll("a", 161).await.unwrap(), None);
        assert_eq!(store.record_poll("a", 163).await.unwrap(), Some(161));
        assert!(store.consume_approval("edit", "a").await.unwrap());
        assert!(
            !store.consume_approval("edit", "a").await.unwrap(),
            "consumed once"
        );
        assert_eq!(
            store.approval("edit", "a").await.unwrap().unwrap().status,
            Status::Consumed
        );
        assert_eq!(store.purge_approvals(200).await.unwrap(), 1, "b");
    }
);
