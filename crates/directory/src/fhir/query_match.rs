//! Whether a resource matches the filters of a [`Query`](super::Query): strings folded,
//! identifiers and codes by system and value, references by id.

use super::*;
use crate::fhir::extensions::{SMARTCARD, trace_values};

fn str_matches(how: StrMatch, wanted: &[String], have: &[&str]) -> bool {
    wanted.iter().any(|w| {
        have.iter().any(|h| match how {
            StrMatch::Exact => h == w,
            StrMatch::Start => fold(h).starts_with(&fold(w)),
            StrMatch::Contains => fold(h).contains(&fold(w)),
        })
    })
}

fn identifiers_match(tokens: &[Token], ids: &[Identifier]) -> bool {
    tokens.iter().any(|t| {
        ids.iter()
            .any(|i| t.matches(i.system.as_deref(), i.value.as_deref()))
    })
}

/// Whether any token matches any coding of `concepts`.
pub fn codes_match(tokens: &[Token], concepts: &[CodeableConcept]) -> bool {
    tokens.iter().any(|t| {
        concepts
            .iter()
            .flat_map(|c| &c.coding)
            .any(|c| t.matches(c.system.as_deref(), c.code.as_deref()))
    })
}

fn ref_id(r: Option<&crate::fhir::model::Reference>) -> Option<&str> {
    r?.reference.as_deref()?.split_once('/').map(|(_, id)| id)
}

impl Filter {
    /// Whether `res` (mapped from `s`) satisfies this criterion.
    pub fn matches(&self, s: &StoredRecord, res: &Resource) -> bool {
        match self {
            Filter::Id(keys) => keys.contains(&s.record.key),
            Filter::Active(a) => s.active == *a,
            Filter::LastUpdated(cmp) => {
                let t = s.updated_at;
                match *cmp {
                    TimeCmp::Eq(from, to) => from <= t && t < to,
                    TimeCmp::Ge(from) => t >= from,
                    TimeCmp::Gt(to) => t >= to,
                    TimeCmp::Le(to) => t < to,
                    TimeCmp::Lt(from) => t < from,
                }
            }
            Filter::QualificationCode(tokens) => match res {
                Resource::Practitioner(p) => codes_match(
                    tokens,
                    &p.qualification
                        .iter()
                        .map(|q| q.code.clone())
                        .collect::<Vec<_>>(),
                ),
                _ => false,
            },
            Filter::Mailbox(addresses) => {
                let telecom = match res {
                    Resource::Practitioner(p) => &p.telecom,
                    Resource::Organization(o) => &o.telecom,
                    _ => return false,
                };
                telecom.iter().any(|t| {
                    t.system.as_deref() == Some("email")
                        && t.value
                            .as_deref()
                            .is_some_and(|v| addresses.contains(&v.to_ascii_lowercase()))
                })
            }
            Filter::SmartCard(numbers) => match res {
                Resource::Practitioner(p) => p
                    .extension
                    .iter()
                    .filter(|e| e.url == SMARTCARD)
                    .flat_map(|e| &e.extension)
                    .filter_map(|e| e.value_string.as_deref())
                    .any(|n| numbers.iter().any(|w| fold(n).starts_with(w.as_str()))),
                _ => false,
            },
            Filter::InformationSystem(tokens) | Filter::RegistrationAuthority(tokens) => {
                let part = match self {
                    Filter::InformationSystem(_) => "systeme-information",
                    _ => "autorite-enregistrement",
                };
                let meta = match res {
                    Resource::Practitioner(p) => &p.meta,
                    Resource::Organization(o) => &o.meta,
                    _ => return false,
                };
                trace_values(meta, part)
                    .into_iter()
                    .any(|(system, code)| tokens.iter().any(|t| t.matches(system, Some(code))))
            }
            Filter::Identifier(tokens) => match res {
                Resource::Practitioner(p) => identifiers_match(tokens, &p.identifier),
                Resource::Organization(o) => identifiers_match(tokens, &o.identifier),
                Resource::HealthcareService(h) => identifiers_match(tokens, &h.identifier),
                _ => false,
            },
            Filter::IdentifierType(tokens) => {
                let ids = match res {
                    Resource::Practitioner(p) => &p.identifier,
                    Resource::Organization(o) => &o.identifier,
                    _ => return false,
                };
                let types: Vec<CodeableConcept> =
                    ids.iter().filter_map(|i| i.type_.clone()).collect();
                codes_match(tokens, &types)
            }
            Filter::ServiceCode(field, tokens) => match res {
                Resource::HealthcareService(h) => codes_match(
                    tokens,
                    match field {
                        ServiceCode::Type => &h.type_,
                        ServiceCode::Category => &h.category,
                        ServiceCode::Characteristic => &h.characteristic,
                    },
                ),
                _ => false,
            },
            Filter::Code(tokens) => match res {
                Resource::Organization(o) => codes_match(tokens, &o.type_),
                Resource::PractitionerRole(r) => codes_match(tokens, &r.code),
                _ => false,
            },
            Filter::Str(field, how, wanted) => {
                let have: Vec<&str> = match (res, field) {
                    (Resource::Practitioner(p), StrField::Family) => {
                        p.name.iter().filter_map(|n| n.family.as_deref()).collect()
                    }
                    (Resource::Practitioner(p), StrField::Given) => p
                        .name
                        .iter()
                        .flat_map(|n| n.given.iter().map(String::as_str))
                        .collect(),
                    (Resource::Practitioner(p), StrField::Name) => p
                        .name
                        .iter()
                        .flat_map(|n| n.family.iter().chain(&n.given).chain(&n.prefix))
                        .map(String::as_str)
                        .collect(),
                    (Resource::Organization(o), StrField::Name) => {
                        o.name.as_deref().into_iter().collect()
                    }
                    (Resource::Organization(o), StrField::City) => {
                        o.address.iter().filter_map(|a| a.city.as_deref()).collect()
                    }
                    (Resource::Organization(o), StrField::PostalCode) => o
                        .address
                        .iter()
                        .filter_map(|a| a.postal_code.as_deref())
                        .collect(),
                    _ => vec![],
                };
                str_matches(*how, wanted, &have)
            }
            Filter::Ref(field, ids) => {
                let have = match (res, field) {
                    (Resource::PractitionerRole(r), RefField::Practitioner) => {
                        ref_id(r.practitioner.as_ref())
                    }
                    (Resource::PractitionerRole(r), RefField::Organization) => {
                        ref_id(r.organization.as_ref())
                    }
                    (Resource::Organization(o), RefField::PartOf) => ref_id(o.part_of.as_ref()),
                    (Resource::HealthcareService(h), RefField::Organization) => {
                        ref_id(h.provided_by.as_ref())
                    }
                    _ => None,
                };
                have.is_some_and(|h| ids.iter().any(|i| i == h))
            }
        }
    }
}
